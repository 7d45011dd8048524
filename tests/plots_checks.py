"""Shared checks of the plots tests: render a figure and look at what was drawn."""

from __future__ import annotations

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg


def render(fig):
    """Draw with Agg (as saving does) and return the renderer."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def drawn_texts(fig):
    """Visible, non-empty Text artists, leaving out tick labels of ticks outside the view
    (matplotlib keeps those as invisible-in-practice artists but never draws them)."""
    hidden = set()
    for ax in fig.get_axes():
        for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = min(lo, hi), max(lo, hi)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - 1e-9 * abs(hi - lo) <= tick.get_loc() <= hi + 1e-9 * abs(hi - lo):
                    hidden.update({id(tick.label1), id(tick.label2)})
    return [t for t in fig.findobj(matplotlib.text.Text)
            if t.get_visible() and t.get_text().strip() and id(t) not in hidden]


def assert_nothing_clipped(fig, min_texts=5):
    """Every drawn label lies inside the figure, and so does the tight bbox of all."""
    renderer = render(fig)
    box = fig.bbox
    texts = drawn_texts(fig)
    for t in texts:
        bb = t.get_window_extent(renderer)
        assert box.x0 - 0.5 <= bb.x0 and bb.x1 <= box.x1 + 0.5, t.get_text()
        assert box.y0 - 0.5 <= bb.y0 and bb.y1 <= box.y1 + 0.5, t.get_text()
    tight = fig.get_tightbbox(renderer)  # inches
    w, h = fig.get_size_inches()
    assert tight.x0 >= -0.01 and tight.y0 >= -0.01, tight
    assert tight.x1 <= w + 0.01 and tight.y1 <= h + 0.01, tight
    assert len(texts) >= min_texts
    return renderer
