"""Helpers the tools share: read a config as the tools do, set up
distributed runs without CUDA, recognise distiller configs and take the
student out of a distiller checkpoint."""
import logging
import os
import os.path as osp
from collections import OrderedDict
from typing import Optional

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.registry import MODELS

from mmkd.checkpoint import (CheckpointError, latest_good_checkpoint,
                             load_checkpoint_file, state_dict_of,
                             trust_checkpoint)
from mmkd.models.distillers import BaseDistiller
from mmkd.transforms import plain_loaders

__all__ = [
    'load_tool_config', 'check_inputs', 'enable_tensorboard',
    'setup_cpu_distributed', 'add_checksum_hook', 'set_resume',
    'is_distiller_config', 'student_config', 'exported_config',
    'student_weights', 'names_mmkd', 'dataset_class', 'dataset_setting'
]

# What to do about a missing dataset, by dataset type.
DATA_HELP = {
    'CityscapesDataset': 'docs/cityscapes.md shows how to prepare '
    'Cityscapes',
    'mmkd.DigitScapesDataset': 'python tools/make_digitscapes.py '
    'data/digitscapes builds it',
}
OTHER_DATA_HELP = 'data/README.md says how each dataset is made'


def _datasets(dataset) -> list:
    """The datasets a dataset config reads, through the wrappers
    (``dataset=``, ``datasets=[...]``)."""
    if 'datasets' in dataset:
        return [leaf for inner in dataset['datasets']
                for leaf in _datasets(inner)]
    if 'dataset' in dataset:
        return _datasets(dataset['dataset'])
    return [dataset]


def _first_missing(dataset) -> Optional[str]:
    root = dataset.get('data_root') or ''
    if root and not osp.isdir(root):
        return root
    prefixes = dataset.get('data_prefix') or {}
    if isinstance(prefixes, str):
        prefixes = {'prefix': prefixes}
    paths = [osp.join(root, prefix) for prefix in prefixes.values() if prefix]
    if dataset.get('ann_file'):
        paths.append(osp.join(root, dataset['ann_file']))
    return next((path for path in paths if not osp.exists(path)), None)


def dataset_class(dataset: dict, scope: Optional[str]) -> Optional[type]:
    """The class a dataset config builds, from the registry of ``scope``
    (the config's default scope), or None when it is not registered."""
    from mmengine.registry import DATASETS
    with DATASETS.switch_scope_and_registry(scope) as registry:
        return registry.get(dataset.get('type'))


def dataset_setting(dataset: dict, name: str, scope: Optional[str]):
    """A dataset config's ``name`` argument (``img_suffix``, ...): the
    config's, else the default of the dataset class that builds it (the
    first class in its MRO whose ``__init__`` names it), else None."""
    import inspect
    if name in dataset:
        return dataset[name]
    for cls in (dataset_class(dataset, scope) or object).__mro__:
        parameter = inspect.signature(cls.__init__).parameters.get(name)
        if parameter is not None and \
                parameter.default is not inspect.Parameter.empty:
            return parameter.default
    return None


def _files(folder: str, suffix: str) -> list:
    """Paths under ``folder``, relative to it, ending with ``suffix``."""
    return sorted(osp.relpath(osp.join(top, name), folder)
                  for top, _, names in os.walk(folder, followlinks=True)
                  for name in names if name.endswith(suffix))


def _split_problem(dataset: dict, scope: Optional[str]) -> Optional[str]:
    """Why a segmentation split whose folders exist holds nothing to train
    or test on: no image, or images without their label maps (MMSegmentation
    pairs ``<img_path>/<stem><img_suffix>`` with ``<seg_map_path>/<stem>
    <seg_map_suffix>``). None when it looks complete, or is not laid out in
    such folders."""
    prefixes = dataset.get('data_prefix')
    if not isinstance(prefixes, dict) or not prefixes.get('img_path') or \
            dataset.get('ann_file'):
        return None
    root = dataset.get('data_root') or ''
    image_dir = osp.join(root, prefixes['img_path'])
    image_suffix = dataset_setting(dataset, 'img_suffix', scope) or ''
    images = _files(image_dir, image_suffix)
    label_suffix = dataset_setting(dataset, 'seg_map_suffix', scope)
    layout = f'{image_dir}/**/<name>{image_suffix}'
    if prefixes.get('seg_map_path') and label_suffix:
        label_dir = osp.join(root, prefixes['seg_map_path'])
        layout += f' with {label_dir}/**/<name>{label_suffix}'
    if not images:
        return f'{image_dir} holds no *{image_suffix} image (expected ' \
            f'{layout})'
    if not (prefixes.get('seg_map_path') and label_suffix):
        return None
    unlabelled = [
        osp.join(label_dir, image[:len(image) - len(image_suffix)] +
                 label_suffix) for image in images]
    unlabelled = [path for path in unlabelled if not osp.isfile(path)]
    if unlabelled:
        return (f'{len(unlabelled)} of the {len(images)} images of '
                f'{image_dir} have no label map, e.g. {unlabelled[0]} '
                f'(expected {layout})')
    return None


def check_inputs(cfg: Config, loaders) -> None:
    """Stop, in one line per problem, if a dataset folder of the
    ``loaders`` (e.g. ``'train_dataloader'``) is missing, holds no image or
    images without label maps, or the teacher's local checkpoint file is
    missing: before any model is built or downloaded."""
    problems = []
    scope = cfg.get('default_scope')
    for loader in loaders:
        if cfg.get(loader) is None:
            continue
        for dataset in _datasets(cfg[loader]['dataset']):
            hint = DATA_HELP.get(dataset.get('type'), OTHER_DATA_HELP)
            missing = _first_missing(dataset)
            if missing is not None:
                problems.append(f'{loader}: {missing} does not exist '
                                f'({hint})')
                continue
            problem = _split_problem(dataset, scope)
            if problem is not None:
                problems.append(f'{loader}: {problem} ({hint})')
    teacher = cfg.get('model', {}).get('teacher')
    checkpoint = teacher.get('checkpoint') if isinstance(teacher,
                                                         dict) else None
    if isinstance(checkpoint, str) and '://' not in checkpoint and \
            not osp.isfile(checkpoint):
        problems.append(f'model.teacher.checkpoint: {checkpoint} does not '
                        'exist (train the teacher first, or point the '
                        'config at its weights)')
    if problems:
        raise SystemExit('\n'.join(f'error: {line}' for line in problems))


def load_tool_config(path: str, cfg_options: Optional[dict],
                     work_dir: Optional[str], launcher: str) -> Config:
    """The config at ``path`` with ``--cfg-options`` merged, the launcher
    recorded and the work dir set: ``work_dir``, else the config's, else
    ``./work_dirs/<config name>``, as MMSegmentation's tools do. ``path``
    may name a packaged config, ``mmkd::pspnet_r101_to_r18_kd.py`` or
    ``mmseg::...``."""
    if '::' in path:
        path = Config._get_cfg_path(path, '')[0]
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    return cfg


def enable_tensorboard(cfg: Config) -> None:
    """Add mmengine's TensorBoard backend to the config's visualizer: the
    scalars then also go to event files under
    ``<work_dir>/<timestamp>/vis_data``."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise SystemExit("error: --tensorboard needs the tensorboard "
                         "package: pip install -e '.[tensorboard]'")
    if cfg.get('visualizer') is None:
        raise SystemExit('error: --tensorboard: the config has no '
                         'visualizer to add the TensorBoard backend to')
    backends = cfg.visualizer.setdefault('vis_backends', [])
    if not any(backend.get('type') == 'TensorboardVisBackend'
               for backend in backends):
        backends.append(dict(type='TensorboardVisBackend'))


def add_checksum_hook(cfg: Config) -> None:
    """Add ``mmkd.CheckpointChecksumHook`` to the config's custom hooks,
    unless it is there: every checkpoint the run saves carries a checksum
    of its contents."""
    hooks = cfg.setdefault('custom_hooks', [])
    if not any(hook.get('type') == 'mmkd.CheckpointChecksumHook'
               for hook in hooks):
        hooks.append(dict(type='mmkd.CheckpointChecksumHook'))


def set_resume(cfg: Config, resume: Optional[str], trust: bool) -> None:
    """Apply ``tools/train.py``'s ``--resume [CHECKPOINT]`` and
    ``--trust-checkpoint`` to ``cfg``. ``resume='auto'`` (the option
    without a path) resumes from the work dir's latest checkpoint that
    loads and passes its checksum (:func:`latest_good_checkpoint`), or
    starts afresh when the work dir holds none; a path resumes from that
    file, which must load. ``trust`` vouches for the file resumed or
    loaded from (``load_from``)."""
    if resume == 'auto':
        try:
            resume = latest_good_checkpoint(cfg.work_dir, trust=trust)
        except CheckpointError as error:
            raise SystemExit(f'error: --resume: {error}')
        if resume is None:
            print_log(f'--resume: {cfg.work_dir} holds no checkpoint; '
                      'training from the start', logger='current',
                      level=logging.WARNING)
        else:
            print_log(f'Resuming from the latest good checkpoint {resume}',
                      logger='current')
    if resume is not None:
        cfg.resume = True
        cfg.load_from = resume
    if trust:
        if cfg.get('load_from') is None:
            raise SystemExit('--trust-checkpoint: no checkpoint to trust '
                             '(give --resume CHECKPOINT, or load_from)')
        trust_checkpoint(cfg.load_from)


def _sync_bn_to_bn(node) -> int:
    """Turn every ``SyncBN`` norm config under ``node`` into ``BN``, in
    place; returns how many there were."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
            count += 1
        for value in node.values():
            count += _sync_bn_to_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            count += _sync_bn_to_bn(value)
    return count


def setup_cpu_distributed(cfg: Config) -> None:
    """Make a ``--launcher pytorch`` run work on a machine without CUDA
    (several CPU processes under torchrun, as the tests run): start the gloo
    process group here, since mmengine's ``init_dist`` would call
    ``torch.cuda.set_device``; train BN instead of SyncBN, which needs CUDA;
    and wrap the model in DDP without device ids, broadcasting buffers so
    that every rank keeps rank 0's BN statistics. Does nothing when CUDA is
    available or the run is not distributed."""
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    if cfg.launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {cfg.launcher} needs CUDA; on CPUs, launch with '
            'torchrun (tools/dist_train.sh, tools/dist_test.sh)')
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group('gloo')
    converted = _sync_bn_to_bn(cfg.model)
    if converted:
        print_log(
            f'No CUDA: {converted} SyncBN layer configs of the trained model '
            'run as BN, with the statistics of rank 0 broadcast to all ranks',
            logger='current', level=logging.WARNING)
    # DDP's defaults sync buffers from rank 0 (mmengine's own setting turns
    # that off, for SyncBN)
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                                 device_ids=None)


def is_distiller_config(model_cfg: ConfigDict, default_scope: str) -> bool:
    """Whether ``model_cfg`` builds an mmkd distiller."""
    with MODELS.switch_scope_and_registry(default_scope) as registry:
        model_class = registry.get(model_cfg['type'])
    return isinstance(model_class, type) and issubclass(
        model_class, BaseDistiller)


def names_mmkd(node) -> bool:
    """Whether any ``type`` under ``node`` (a config or a part of one) is
    one of mmkd's, ``mmkd.<name>``."""
    if isinstance(node, dict):
        return str(node.get('type', '')).startswith('mmkd.') or any(
            names_mmkd(value) for value in node.values())
    if isinstance(node, (list, tuple)):
        return any(names_mmkd(value) for value in node)
    return False


def student_config(cfg: Config) -> Config:
    """A distiller config turned into its student's config, in place: the
    student as the model, without mmkd's hooks (they need a distiller).
    The data pipelines keep mmkd's checked loaders, and the config keeps
    importing mmkd for them. Returns ``cfg``."""
    cfg.model = cfg.model.student
    hooks = [hook for hook in cfg.pop('custom_hooks', [])
             if not str(hook.get('type', '')).startswith('mmkd.')]
    if hooks:
        cfg.custom_hooks = hooks
    return cfg


def exported_config(cfg: Config) -> Config:
    """A distiller config turned into the config of its exported student,
    in place: :func:`student_config`, with MMSegmentation's (MMPretrain's)
    loaders in place of mmkd's checked ones, and without importing mmkd
    unless something still names it (a dataset of mmkd's, such as
    ``mmkd.DigitScapesDataset``). Returns ``cfg``."""
    plain_loaders(student_config(cfg))
    if names_mmkd({key: value for key, value in cfg.items()
                   if key != 'custom_imports'}):
        return cfg
    imports = cfg.get('custom_imports', {}).get('imports', [])
    imports = [name for name in imports if name.split('.')[0] != 'mmkd']
    if imports:
        cfg.custom_imports.imports = imports
    else:
        cfg.pop('custom_imports', None)
    return cfg


def student_weights(checkpoint: str,
                    trust: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    """The student's weights from a checkpoint (safely loaded): the
    ``student.*`` entries of a distiller checkpoint, unprefixed, or all the
    weights of a plain model checkpoint (an exported student, or a model
    trained without distillation)."""
    state_dict = state_dict_of(load_checkpoint_file(checkpoint, trust),
                               checkpoint)
    prefix = 'student.'
    if not any(key.startswith(prefix) for key in state_dict):
        return state_dict
    return OrderedDict((key[len(prefix):], value)
                       for key, value in state_dict.items()
                       if key.startswith(prefix))
