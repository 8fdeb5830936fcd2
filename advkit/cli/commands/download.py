"""`advkit download`: fetch a dataset with checksums (needs a network)."""

import click

from advkit.cli.options import out


@click.command("download")
@click.argument("dataset", type=click.Choice(["mnist"]))
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--mirror", multiple=True, help="Base URL to fetch from (repeatable; default: the known mirrors).")
def download_command(dataset, directory, mirror):
    """Download DATASET into DIRECTORY, verifying MD5 checksums; then use --data mnist:DIRECTORY."""
    from advkit.data.sources import mnist

    files = mnist.download(directory, mirrors=tuple(mirror) or mnist.MIRRORS)
    out(f"{len(files)} files ready in {directory}")
