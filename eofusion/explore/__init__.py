"""Exploring cubes and maps in notebooks: the ``.eofusion`` xarray accessor and readable summaries.

Importing this package registers the accessor (``import eofusion`` alone does not, so it stays light)::

    import eofusion.explore
    s2 = open_cube("cube.zarr").dataset("s2")
    s2.eofusion.bands()                 # band identity: sensor, centre/bandwidth (nm), kind, units
    s2.eofusion.plot_rgb()              # true colour of the clearest date
    s2.eofusion.ndvi()                  # [time, y, x]
    s2.eofusion.time_series(x, y)       # one row per date, one column per band
    rioxarray.open_rasterio("landcover.tif").eofusion.plot_map(legend)
    summarize(grids) / summarize("cube.zarr") / summarize(job_spec)

The notebooks share small settings and one work directory through :func:`small_demo_config` and
:func:`notebook_workdir` (``$EOFUSION_NOTEBOOK_WORK``); the demo world's pieces (:func:`demo_world`,
:func:`demo_cube`, :func:`run_demo`...) are re-exported here so notebooks import only public namespaces.
Matplotlib is imported only when a plot is drawn.
"""

from eofusion.explore.accessor import DataArrayAccessor, DatasetAccessor
from eofusion.explore.reprs import (
    Summary,
    summarize,
    summarize_cube,
    summarize_grids,
    summarize_job,
    summarize_tree,
)
from eofusion.explore.workdir import (
    demo_bbox,
    demo_cube,
    demo_grids,
    demo_world,
    notebook_workdir,
    real_data_dir,
    small_demo_config,
)
from eofusion.pipeline.demo import COLLECTIONS as DEMO_COLLECTIONS
from eofusion.pipeline.demo import SENSORS as DEMO_SENSORS
from eofusion.pipeline.demo import run_demo

__all__ = [
    "DEMO_COLLECTIONS",
    "DEMO_SENSORS",
    "DataArrayAccessor",
    "DatasetAccessor",
    "Summary",
    "demo_bbox",
    "demo_cube",
    "demo_grids",
    "demo_world",
    "notebook_workdir",
    "real_data_dir",
    "run_demo",
    "small_demo_config",
    "summarize",
    "summarize_cube",
    "summarize_grids",
    "summarize_job",
    "summarize_tree",
]
