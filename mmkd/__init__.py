"""mmkd: knowledge distillation for segmentation and classification on
OpenMMLab 2.0 (mmengine, MMSegmentation, MMPretrain)."""
import importlib.util

if importlib.util.find_spec('mmcv') is None:
    raise ImportError(
        'mmkd needs mmcv, which is not installed: `pip install '
        'mmcv-lite==2.1.0` (no compiled ops, enough for PSPNet, DeepLabV3 '
        'and ResNets) or full `mmcv==2.1.0` (compiled ops).')

from . import compat  # noqa: E402

compat.apply()

from .checkpoint import route_mmengine_loads  # noqa: E402

route_mmengine_loads()

from .version import __version__  # noqa: E402

__all__ = ['__version__', 'compat']
