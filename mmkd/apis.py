"""Helpers the tools share: read a config as the tools do, set up
distributed runs without CUDA, recognise distiller configs and take the
student out of a distiller checkpoint."""
import logging
import os.path as osp
from collections import OrderedDict
from typing import Optional

import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log
from mmengine.registry import MODELS

from mmkd.checkpoint import load_checkpoint_file, state_dict_of
from mmkd.models.distillers import BaseDistiller
from mmkd.transforms import plain_loaders

__all__ = [
    'load_tool_config', 'check_inputs', 'enable_tensorboard',
    'setup_cpu_distributed',
    'is_distiller_config', 'student_config', 'student_weights'
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


def check_inputs(cfg: Config, loaders) -> None:
    """Stop, in one line per problem, if a dataset folder of the
    ``loaders`` (e.g. ``'train_dataloader'``) or the teacher's local
    checkpoint file is missing: before any model is built or downloaded."""
    problems = []
    for loader in loaders:
        if cfg.get(loader) is None:
            continue
        for dataset in _datasets(cfg[loader]['dataset']):
            missing = _first_missing(dataset)
            if missing is not None:
                hint = DATA_HELP.get(dataset.get('type'), OTHER_DATA_HELP)
                problems.append(f'{loader}: {missing} does not exist '
                                f'({hint})')
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


def student_config(cfg: Config) -> Config:
    """A distiller config turned into its student's plain config, in place:
    the student as the model, without mmkd's import and hooks (they need a
    distiller), and with MMSegmentation's loaders in place of the checked
    ones. Returns ``cfg``."""
    cfg.model = cfg.model.student
    for key in list(cfg.keys()):
        plain_loaders(cfg[key])
    imports = cfg.get('custom_imports', {}).get('imports', [])
    imports = [name for name in imports if name.split('.')[0] != 'mmkd']
    if imports:
        cfg.custom_imports.imports = imports
    else:
        cfg.pop('custom_imports', None)
    hooks = [hook for hook in cfg.pop('custom_hooks', [])
             if not str(hook.get('type', '')).startswith('mmkd.')]
    if hooks:
        cfg.custom_hooks = hooks
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
