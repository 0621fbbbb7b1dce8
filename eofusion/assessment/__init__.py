"""Accuracy assessment and area estimation of class maps, by the good practices of Olofsson et al. (2014).

Spine: a class map -> a stratified random sample by mapped class (:mod:`.design`) -> reference labels for the
sample (a raster, polygons, or a human in QGIS) -> the stratified estimators (:mod:`.estimators`): error
matrix in area proportions, user's / producer's / overall accuracy and class areas with 95 % confidence
intervals -> a report (:mod:`.report`).

Olofsson, P., Foody, G. M., Herold, M., Stehman, S. V., Woodcock, C. E., Wulder, M. A. (2014). Good practices
for estimating area and assessing accuracy of land change. Remote Sensing of Environment 148, 42-57.
"""

from eofusion.assessment.design import SampleDesign, draw_sample, map_class_counts, sample_sizes
from eofusion.assessment.estimators import AreaEstimate, Assessment, assess_counts
from eofusion.assessment.report import AssessmentFiles, assess_map

__all__ = [
    "AreaEstimate",
    "Assessment",
    "AssessmentFiles",
    "SampleDesign",
    "assess_counts",
    "assess_map",
    "draw_sample",
    "map_class_counts",
    "sample_sizes",
]
