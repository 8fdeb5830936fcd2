"""`advkit download`: fetch a dataset with checksums (needs a network)."""

import click

from advkit.cli.options import out


@click.command("download")
@click.argument("dataset", type=click.Choice(["mnist", "cifar10", "cifar100"]))
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["python", "binary"]), default="binary", show_default=True,
              help="CIFAR tarball to fetch: binary (read per sample) or python (pickles, restricted unpickler).")
@click.option("--mirror", multiple=True, help="Base URL to fetch from (repeatable; default: the known mirrors).")
def download_command(dataset, directory, fmt, mirror):
    """Download DATASET into DIRECTORY, verifying MD5 checksums (CIFAR tarballs are extracted there);
    then use --data DATASET:DIRECTORY."""
    if dataset == "mnist":
        from advkit.data.sources import mnist

        files = mnist.download(directory, mirrors=tuple(mirror) or mnist.MIRRORS)
        out(f"{len(files)} files ready in {directory}")
        return
    from advkit.data.sources import cifar

    folder = cifar.download(dataset, directory, fmt, mirrors=tuple(mirror) or (cifar.URL,))
    out(f"{dataset} ready in {folder}: use --data {dataset}:{directory}")
