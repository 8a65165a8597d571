"""Make the OpenMMLab 2.0 stack import and load on today's PyTorch and
packaging tools, quietly.

``import mmkd`` applies each fix once, and only where its problem exists;
on a stack without the problem it does nothing. None changes what a model
computes.

1. ``mmcv-lite`` ships no compiled extension, yet ``import mmseg.models``
   imports ``mmcv.ops`` at module level. Without the extension,
   ``mmcv.ops`` becomes a module whose every op raises
   :class:`MissingCompiledOpError` when called or instantiated. PSPNet,
   DeepLabV3 and ResNets use none of them.
2. torch >= 2.6 loads checkpoints with ``weights_only=True``, which rejects
   the few non-tensor objects mmengine writes into its checkpoints
   (``HistoryBuffer`` and numpy arrays and scalars in the message hub).
   Exactly those globals are allowlisted, ``getattr`` only for the one
   lookup mmengine pickles; anything else is still refused.
3. mmengine resolves ``mmseg::`` and ``mmpretrain::`` config paths through
   ``pkg_resources``, which setuptools deprecates (a warning on every
   import) and setuptools >= 81 no longer ships. The lookups use
   ``importlib.metadata`` instead.
4. mmengine resolves ``pkg::path`` configs for the OpenMMLab packages it
   lists, and only for paths with a folder. ``mmkd`` is added to that list
   and ``mmkd::<config>.py`` (a top-level config) accepted, so that
   ``mmkd::pspnet_r101_to_r18_bdd.py`` resolves in the installed package
   (``mmkd/.mim/configs``), as ``mmseg::`` does.
5. OpenCV comes in distributions that all write the one ``cv2`` package
   (``opencv-python``, which mmengine and mmcv require, its headless and
   contrib variants). Two of them installed side by side leave a ``cv2``
   made of whichever was installed last; a warning names them and the fix.
6. Warnings the user cannot act on are filtered, narrowly, by message and
   module (:data:`QUIET`): mmcv-lite's missing ``MultiScaleDeformableAttention``,
   MMSegmentation's ``build_loss`` deprecation, its ``avg_non_ignore``
   notice, the ``pretrained`` deprecation its own configs trigger, and its
   visualisation hook's "draw is False" notice. Every other warning shows.
   ``MMKD_SHOW_ALL_WARNINGS=1`` in the environment turns this off.

Besides these, :func:`fast_top1_accuracy` (opt-in) speeds up the training
accuracy MMSegmentation's decode heads log; mmkd's checkpoint loading
(:mod:`mmkd.checkpoint`) routes mmengine's loads through its safe loader.
"""
import importlib.metadata
import importlib.util
import os.path as osp
import pickle
import sys
import types
import warnings

import numpy as np
import torch

__all__ = ['MissingCompiledOpError', 'apply', 'fast_top1_accuracy',
           'QUIET']


class MissingCompiledOpError(RuntimeError):
    """Raised when a model uses an mmcv op that needs the compiled extension."""

    def __init__(self, op_name: str):
        super().__init__(
            f'mmcv.ops.{op_name} needs the compiled mmcv extension, but only '
            'mmcv-lite is installed. Install full mmcv instead, e.g. '
            '`pip uninstall -y mmcv-lite && pip install mmcv==2.1.0 -f '
            'https://download.openmmlab.com/mmcv/dist/<cuda>/<torch>/'
            'index.html` (or build it from source with MMCV_WITH_OPS=1).')
        self.op_name = op_name


def _missing_op(name: str) -> type:
    """A stand-in for ``mmcv.ops.<name>``: a class, so that ``isinstance``
    checks and subclassing keep working, that raises when used."""
    if name.startswith('__'):
        # Module attributes such as __file__, which tools probe with hasattr.
        raise AttributeError(f'module mmcv.ops has no attribute {name}')

    def refuse(cls, *args, **kwargs):
        raise MissingCompiledOpError(name)

    return type(name, (), {'__new__': refuse, '__module__': 'mmcv.ops'})


def _stub_mmcv_ops() -> None:
    if 'mmcv.ops' in sys.modules or importlib.util.find_spec('mmcv') is None:
        return
    if importlib.util.find_spec('mmcv._ext') is not None:
        return
    import mmcv

    ops = types.ModuleType(
        'mmcv.ops', 'Stand-ins for the compiled mmcv ops, installed by mmkd '
        'because the mmcv extension is missing.')
    ops.__getattr__ = _missing_op  # PEP 562: any name gives a stand-in
    sys.modules['mmcv.ops'] = ops
    mmcv.ops = ops


def _history_buffer_method(owner, name):
    """``getattr`` as mmengine checkpoints use it, and no further.

    ``HistoryBuffer`` pickles its statistics methods (``min``, ``mean``,
    ...) as ``getattr(HistoryBuffer, name)``. A real ``getattr`` in the
    allowlist would let a crafted pickle reach any attribute of any object
    it can build, so only that use is resolved.
    """
    from mmengine.logging import HistoryBuffer

    # The built-in statistics; the class fills its registry with them only
    # when a first buffer is made.
    allowed = {'min', 'max', 'current', 'mean', *HistoryBuffer._statistics_methods}
    if owner is HistoryBuffer and name in allowed:
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'refused getattr({owner!r}, {name!r}) while loading a checkpoint: '
        'only HistoryBuffer statistics methods may be looked up')


def mmengine_checkpoint_globals() -> list:
    """The globals an mmengine training checkpoint needs beyond tensors,
    as ``torch.serialization.get_unsafe_globals_in_checkpoint`` lists them
    for a checkpoint saved after validation."""
    from mmengine.logging import HistoryBuffer

    numpy_core = np._core if hasattr(np, '_core') else np.core
    # Unpickling a dtype builds an instance of its class (Float64DType for
    # HistoryBuffer values and numpy float scalars, Int64DType for its
    # counts); the plain numeric ones are allowed, nothing with objects.
    numeric_dtype_classes = [
        type(np.dtype(name)) for name in (
            'bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
            'uint32', 'uint64', 'float16', 'float32', 'float64')
    ]
    return [
        HistoryBuffer,
        numpy_core.multiarray._reconstruct,  # numpy arrays in HistoryBuffer
        np.ndarray,
        np.dtype,
        *numeric_dtype_classes,
        numpy_core.multiarray.scalar,  # numpy scalars in runtime_info
        (_history_buffer_method, 'builtins.getattr'),
    ]


def _allow_mmengine_checkpoints() -> None:
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())


def _module_of_distribution(dist: importlib.metadata.Distribution) -> str:
    top_level = dist.read_text('top_level.txt')
    if top_level:
        return top_level.split()[0]
    # Wheels without top_level.txt: the first package in the file list.
    for file in dist.files or []:
        if file.name == '__init__.py' and len(file.parts) == 2:
            return file.parts[0]
    raise ValueError(f'cannot infer the module name of {dist.name}')


def is_installed(package: str) -> bool:
    """``mmengine.utils.is_installed`` without ``pkg_resources``."""
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def get_installed_path(package: str) -> str:
    """``mmengine.utils.get_installed_path`` without ``pkg_resources``: the
    folder the package imports from (for an editable install, the source
    tree, where mmengine's lookup would point into site-packages)."""
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.origin is not None:
        return osp.dirname(spec.origin)
    dist = importlib.metadata.distribution(package)
    return str(dist.locate_file(_module_of_distribution(dist)))


def _replace_pkg_resources_lookups() -> None:
    import mmengine.config.config as config_module
    import mmengine.hub.hub as hub_module
    import mmengine.utils as utils_module
    import mmengine.utils.package_utils as package_utils

    for module in (config_module, hub_module, utils_module, package_utils):
        if hasattr(module, 'is_installed'):
            module.is_installed = is_installed
        module.get_installed_path = get_installed_path


OPENCV_DISTRIBUTIONS = ('opencv-python', 'opencv-python-headless',
                        'opencv-contrib-python',
                        'opencv-contrib-python-headless')


def installed_opencv() -> list:
    """The OpenCV distributions installed, by name."""
    found = []
    for name in OPENCV_DISTRIBUTIONS:
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


def _warn_about_several_opencv() -> None:
    found = installed_opencv()
    if len(found) > 1:
        warnings.warn(
            f'{len(found)} OpenCV distributions are installed ({found}); '
            'they write the same cv2 package, so it holds whichever was '
            'installed last. Keep one: pip uninstall -y '
            f'{" ".join(name for name in found if name != "opencv-python")}'
            ' && pip install --force-reinstall --no-deps opencv-python',
            stacklevel=3)


def _resolve_mmkd_configs() -> None:
    import mmengine.config.config as config_module
    import mmengine.config.utils as config_utils

    config_utils.MODULE2PACKAGE.setdefault('mmkd', 'mmkd')
    original = config_utils._get_package_and_cfg_path
    if getattr(original, 'mmkd_top_level', False):
        return

    def package_and_cfg_path(cfg_path: str):
        package, _, path = cfg_path.partition('::')
        if package == 'mmkd' and '::' not in path and '/' not in path:
            return 'mmkd', path
        return original(cfg_path)

    package_and_cfg_path.mmkd_top_level = True
    config_utils._get_package_and_cfg_path = package_and_cfg_path
    config_module._get_package_and_cfg_path = package_and_cfg_path



def top1_accuracy_from_max(accuracy):
    """Wrap mmseg's ``accuracy(pred, target, topk, thresh, ignore_index)``
    (``pred`` ``[N, C, ...]``, ``target`` ``[N, ...]``, a ``[1]`` tensor in
    percent out) so that top-1 without a threshold comes from ``max``;
    anything else goes to ``accuracy`` itself."""

    def top1_accuracy(pred, target, topk=1, thresh=None, ignore_index=None):
        if topk != 1 or thresh is not None or pred.size(0) == 0:
            return accuracy(pred, target, topk, thresh, ignore_index)
        assert pred.ndim == target.ndim + 1 and pred.size(0) == target.size(0)
        correct = pred.max(dim=1).indices == target
        total = target.numel()
        if ignore_index is not None:
            counted = target != ignore_index
            correct &= counted
            total = int(counted.sum())
        # mmseg's own arithmetic: (correct + eps) * 100 / (total + eps).
        eps = torch.finfo(torch.float32).eps
        return (correct.sum().float().reshape(1) + eps).mul_(
            100.0 / (total + eps))

    top1_accuracy.mmkd_original = accuracy
    return top1_accuracy


def fast_top1_accuracy() -> None:
    """Opt-in: MMSegmentation's decode heads log a training accuracy
    (``acc_seg``, never trained on) computed with ``topk`` over the class
    dimension, which on a CPU is several times slower than ``max`` on the
    same tensor (``[8, 11, 64, 128]`` logits on one thread: 11 ms against
    3.7). After this call, top-1 accuracy, the heads' only use, comes from
    ``max``: the same figure, ties aside (``max`` takes the first maximal
    class, ``topk`` leaves ties unspecified). DigitScapes training steps
    are 5-7 % shorter on one CPU thread. A config turns it on with
    ``custom_imports = dict(imports=['mmkd', 'mmkd.fast_accuracy'])``."""
    import mmseg.models.decode_heads.decode_head as decode_head

    if not hasattr(decode_head.accuracy, 'mmkd_original'):
        decode_head.accuracy = top1_accuracy_from_max(decode_head.accuracy)


#: (message regex, module regex) of the warnings filtered by default
QUIET = (
    (r'Fail to import ``MultiScaleDeformableAttention``',
     r'mmcv\.cnn\.bricks\.transformer'),
    (r'``build_loss`` would be deprecated soon', r'mmseg\.models\.builder'),
    (r'Default ``avg_non_ignore`` is False',
     r'mmseg\.models\.losses\.cross_entropy_loss'),
    (r'DeprecationWarning: pretrained is a deprecated',
     r'mmseg\.models\.backbones\.'),
    (r'The draw is False, it means that the hook',
     r'mmseg\.engine\.hooks\.visualization_hook'),
)


def _quiet_known_warnings() -> None:
    import os
    if os.environ.get('MMKD_SHOW_ALL_WARNINGS'):
        return
    for message, module in QUIET:
        warnings.filterwarnings('ignore', message=message, module=module)


def apply() -> None:
    """Apply every fix whose problem is present. Safe to call repeatedly."""
    _quiet_known_warnings()  # first: the imports below would warn
    _warn_about_several_opencv()
    _resolve_mmkd_configs()
    _stub_mmcv_ops()
    _allow_mmengine_checkpoints()
    _replace_pkg_resources_lookups()
