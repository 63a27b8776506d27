"""Looking inside trained models: feature maps, saliency, Grad-CAM, ROC curves and mistakes.

:func:`load_subject` gets the model (the checkpoint cache, or a compressed variant through
the runner's machinery), :func:`render` draws every figure and writes ``index.md``.
"""

from bench.viz.activations import Stage, capture_stages, find_stages
from bench.viz.render import VizResult, default_out_dir, render
from bench.viz.saliency import grad_cam, gradcam_stage, input_gradients
from bench.viz.subject import VizSubject, load_subject

__all__ = [
    "Stage",
    "VizResult",
    "VizSubject",
    "capture_stages",
    "default_out_dir",
    "find_stages",
    "grad_cam",
    "gradcam_stage",
    "input_gradients",
    "load_subject",
    "render",
]
