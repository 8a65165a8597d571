"""What ``tools/train.py`` and ``tools/test.py`` do, importable: read a
config as they read it, check its inputs before anything is built, apply
their options (resume, AMP, TensorBoard, CPU-only distributed runs), and
train or test.

    from mmkd.runner import train, test
    train('configs/pspnet_r101_to_r18_kd.py', work_dir='work_dirs/kd')
    metrics = test('configs/pspnet_r101_to_r18_kd.py',
                   'work_dirs/kd/iter_80000.pth')
"""
import logging
import os.path as osp
from typing import Dict, Iterable, Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmkd.checkpoint import (CheckpointError, latest_good_checkpoint,
                             load_state_dict_verified, trust_checkpoint)
from mmkd.datasets.layout import dataset_problem, leaf_datasets
from mmkd.export import is_distiller_config, student_config, student_weights
from mmkd.models.builder import config_path

__all__ = [
    'InputError', 'parse_cfg_options', 'load_config', 'check_inputs', 'enable_tensorboard',
    'enable_amp', 'add_checksum_hook', 'set_resume', 'setup_cpu_distributed',
    'build_runner', 'train', 'test'
]


class InputError(ValueError):
    """The run's inputs are missing or unusable: one ``error: ...`` line
    per problem."""


def parse_cfg_options(options: Iterable[str]) -> dict:
    """``--cfg-options`` given as ``key=value`` strings, parsed as
    mmengine's ``DictAction`` parses them on the command line."""
    from mmengine.config import DictAction
    parsed = {}
    for option in options:
        key, separator, value = option.partition('=')
        if not separator:
            raise InputError(f'error: --cfg-options: {option!r} is not '
                             'KEY=VALUE')
        parsed[key] = DictAction._parse_iterable(value)
    return parsed


def load_config(path: str, cfg_options: Optional[dict] = None,
                work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """The config at ``path`` (a file, or a packaged config such as
    ``mmkd::pspnet_r101_to_r18_kd.py``) with ``cfg_options`` merged, the
    launcher recorded and the work dir set: ``work_dir``, else the
    config's, else ``./work_dirs/<config name>``, as MMSegmentation's tools
    do."""
    path = config_path(path)
    cfg = Config.fromfile(path)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(path))[0])
    return cfg


def check_inputs(cfg: Config, loaders: Iterable[str]) -> None:
    """Raise :class:`InputError`, one line per problem, if a dataset of the
    ``loaders`` (e.g. ``'train_dataloader'``) is missing, holds no image or
    images without label maps, or the teacher's local checkpoint file is
    missing: before any model is built or downloaded."""
    problems = []
    for loader in loaders:
        if cfg.get(loader) is None:
            continue
        for dataset in leaf_datasets(cfg[loader]['dataset']):
            problem = dataset_problem(dataset, cfg.get('default_scope'))
            if problem is not None:
                problems.append(f'{loader}: {problem}')
    teacher = cfg.get('model', {}).get('teacher')
    checkpoint = teacher.get('checkpoint') if isinstance(teacher,
                                                         dict) else None
    if isinstance(checkpoint, str) and '://' not in checkpoint and \
            not osp.isfile(checkpoint):
        problems.append(f'model.teacher.checkpoint: {checkpoint} does not '
                        'exist (train the teacher first, or point the '
                        'config at its weights)')
    if problems:
        raise InputError('\n'.join(f'error: {line}' for line in problems))


def enable_tensorboard(cfg: Config) -> None:
    """Add mmengine's TensorBoard backend to the config's visualizer: the
    scalars then also go to event files under
    ``<work_dir>/<timestamp>/vis_data``."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise InputError("error: --tensorboard needs the tensorboard "
                         "package: pip install 'mmkd[tensorboard]'")
    if cfg.get('visualizer') is None:
        raise InputError('error: --tensorboard: the config has no '
                         'visualizer to add the TensorBoard backend to')
    backends = cfg.visualizer.setdefault('vis_backends', [])
    if not any(backend.get('type') == 'TensorboardVisBackend'
               for backend in backends):
        backends.append(dict(type='TensorboardVisBackend'))


def enable_amp(cfg: Config) -> None:
    """Train with mmengine's ``AmpOptimWrapper`` (float16 autocast, dynamic
    loss scale), unless the config does already."""
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
        print_log('AMP is already enabled in the config.', logger='current')
        return
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')


def add_checksum_hook(cfg: Config) -> None:
    """Add ``mmkd.CheckpointChecksumHook`` to the config's custom hooks,
    unless it is there: every checkpoint the run saves carries a checksum
    of its contents."""
    hooks = cfg.setdefault('custom_hooks', [])
    if not any(hook.get('type') == 'mmkd.CheckpointChecksumHook'
               for hook in hooks):
        hooks.append(dict(type='mmkd.CheckpointChecksumHook'))


def set_resume(cfg: Config, resume: Optional[str], trust: bool) -> None:
    """Apply ``--resume [CHECKPOINT]`` and ``--trust-checkpoint`` to
    ``cfg``. ``resume='auto'`` (the option without a path) resumes from the
    work dir's latest checkpoint that loads and passes its checksum
    (:func:`mmkd.checkpoint.latest_good_checkpoint`), or starts afresh when
    the work dir holds none; a path resumes from that file, which must
    load. ``trust`` vouches for the file resumed or loaded from
    (``load_from``)."""
    if resume == 'auto':
        try:
            resume = latest_good_checkpoint(cfg.work_dir, trust=trust)
        except CheckpointError as error:
            raise InputError(f'error: --resume: {error}') from error
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
            raise InputError('error: --trust-checkpoint: no checkpoint to '
                             'trust (give --resume CHECKPOINT, or '
                             'load_from)')
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
        raise InputError(
            f'error: --launcher {cfg.launcher} needs CUDA; on CPUs, launch '
            'with torchrun (tools/dist_train.sh, tools/dist_test.sh)')
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


def build_runner(cfg: Config) -> Runner:
    """The config's runner: its ``runner_type``, or mmengine's."""
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(
        cfg)


def train(config: str, work_dir: Optional[str] = None,
          cfg_options: Optional[dict] = None, resume: Optional[str] = None,
          trust: bool = False, amp: bool = False, tensorboard: bool = False,
          launcher: str = 'none') -> Runner:
    """Train ``config`` (a distiller, or any MMSegmentation or MMPretrain
    model) as ``tools/train.py`` does; returns the runner. ``resume``:
    a checkpoint, or ``'auto'`` for the work dir's latest good one.
    Every checkpoint the run writes carries a checksum."""
    cfg = load_config(config, cfg_options, work_dir, launcher)
    check_inputs(cfg, ['train_dataloader', 'val_dataloader'])
    if tensorboard:
        enable_tensorboard(cfg)
    setup_cpu_distributed(cfg)
    if amp:
        enable_amp(cfg)
    add_checksum_hook(cfg)
    set_resume(cfg, resume, trust)
    runner = build_runner(cfg)
    runner.train()
    return runner


def _enable_visualization(cfg: Config, show: bool, show_dir: Optional[str],
                          wait_time: float) -> None:
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise InputError('error: --show and --show-dir need a '
                         '`visualization` hook in default_hooks '
                         '(SegVisualizationHook)')
    hook.draw = True
    if show:
        hook.show = True
        hook.wait_time = wait_time
    if show_dir:
        cfg.visualizer.save_dir = show_dir


def _add_official_evaluation(cfg: Config) -> None:
    evaluators = cfg.test_evaluator
    if not isinstance(evaluators, list):
        evaluators = [evaluators]
    cfg.test_evaluator = [
        *evaluators,
        dict(type='mmkd.CityscapesOfficialMetric',
             output_dir=osp.join(cfg.work_dir, 'cityscapes_official'),
             keep_results=True)
    ]


def test(config: str, checkpoint: str, work_dir: Optional[str] = None,
         cfg_options: Optional[dict] = None, launcher: str = 'none',
         trust: bool = False, out: Optional[str] = None, show: bool = False,
         show_dir: Optional[str] = None, wait_time: float = 2,
         tta: bool = False, cityscapes_official: bool = False
         ) -> Dict[str, float]:
    """Test ``checkpoint`` on the test set of ``config`` as
    ``tools/test.py`` does; returns the metrics.

    For a distiller config only the student is built and tested
    (:func:`mmkd.export.student_config`: the checked loaders stay), from a
    distiller checkpoint or a plain student one, whose weights must fit it
    exactly. ``cityscapes_official`` also runs the official
    ``cityscapesscripts`` evaluation on the same predictions and raises
    :class:`InputError` if its class mIoU differs from MMSegmentation's.
    """
    cfg = load_config(config, cfg_options, work_dir, launcher)
    if is_distiller_config(cfg.model, cfg.get('default_scope')):
        student_config(cfg)
    check_inputs(cfg, ['test_dataloader'])
    setup_cpu_distributed(cfg)
    if show or show_dir:
        _enable_visualization(cfg, show, show_dir, wait_time)
    if tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if out is not None:
        cfg.test_evaluator['output_dir'] = out
        cfg.test_evaluator['keep_results'] = True
    if cityscapes_official:
        _add_official_evaluation(cfg)
    runner = build_runner(cfg)
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    if tta:
        model = model.module
    load_state_dict_verified(model, student_weights(checkpoint, trust),
                             checkpoint, what='model')
    metrics = runner.test()
    if cityscapes_official:
        # both round to 0.01; a larger gap means the two evaluations did
        # not see the same labels (labelIds and labelTrainIds disagree)
        ours, official = metrics['mIoU'], metrics['cityscapes_official/mIoU']
        if abs(ours - official) > 0.01 + 1e-6:
            raise InputError(
                f'error: mIoU {ours:.2f} and the official Cityscapes mIoU '
                f'{official:.2f} disagree on the same predictions')
    return metrics
