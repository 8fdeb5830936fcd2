"""Figures: matplotlib on the Agg backend, images on axes, and a bundle of PNGs with their summary."""

from __future__ import annotations

from pathlib import Path

from advkit.reporting.files import file_set, save_figure, write_json, write_text


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def image(ax, x, title: str = "", cmap=None) -> None:
    """Show one C x H x W image on `ax`, without ticks."""
    array = x.detach().cpu().numpy() if hasattr(x, "detach") else x
    if array.shape[0] == 1:
        ax.imshow(array[0], cmap=cmap or "gray", vmin=None if cmap else 0, vmax=None if cmap else 1)
    else:
        ax.imshow(array.transpose(1, 2, 0).clip(0, 1))
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def write_bundle(out, summary: dict, figures: dict, *, json_name: str = "result.json",
                 markdown=None) -> list[str]:
    """One PNG per figure, the summary as JSON (listing the figures) and, given a `markdown(summary)`
    renderer, report.md; all or none of them written (`file_set`). Returns the figure file names."""
    out = Path(out)
    names = [f"{stem}.png" for stem in figures]
    summary = {**summary, "figures": names}
    try:
        with file_set(out) as stage:
            for stem, fig in figures.items():
                save_figure(fig, stage / f"{stem}.png")
            write_json(stage / json_name, summary)
            if markdown is not None:
                write_text(stage / "report.md", markdown(summary))
    except BaseException:
        close_figures(figures)
        raise
    return names


def close_figures(figures: dict) -> None:
    """Release figures that were not saved."""
    plt = pyplot()
    for fig in figures.values():
        plt.close(fig)
