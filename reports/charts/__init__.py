"""Vector charts as reportlab Drawings: one function per figure kind, readable in greyscale.

Split by chart family: `base` (styles, ticks, markers, the 'no data' box), `frame` (the x-y plot
frame), `lines`, `bars`, `heatmap` and `river`. Callers use this package's names.
"""
from reports.charts.bars import hbars, stacked_shares
from reports.charts.base import nice_ticks, no_data
from reports.charts.heatmap import heatmap
from reports.charts.lines import Band, information_plane, layer_lines
from reports.charts.river import information_river

__all__ = ["Band", "heatmap", "hbars", "information_plane", "information_river", "layer_lines", "nice_ticks", "no_data",
           "stacked_shares"]
