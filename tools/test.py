"""Test a model on its config's test set and print the metrics (mIoU, ...).

    python tools/test.py CONFIG CHECKPOINT [--out DIR] [--show-dir DIR] [--tta]
                         [--cityscapes-official]

For a distiller config only the student is built and tested, as
MMSegmentation tests a plain model: the teacher is not downloaded, built or
run. CHECKPOINT may be a distiller training checkpoint or a plain student
checkpoint; either way its weights must fit the student exactly.

Prints aAcc, mIoU and mAcc, with the per-class IoU table in the log.
``--cityscapes-official`` also runs the official ``cityscapesscripts``
evaluation on the same predictions (class and category mIoU) and fails if
its class mIoU differs from MMSegmentation's.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmkd.apis import (check_inputs, is_distiller_config, load_tool_config,
                       setup_cpu_distributed, student_config, student_weights)
from mmkd.checkpoint import load_state_dict_verified


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file path or URL')
    parser.add_argument(
        '--work-dir',
        help='where logs and metrics go (default: ./work_dirs/<config>)')
    parser.add_argument(
        '--out', help='save the predictions as label maps in this directory')
    parser.add_argument(
        '--show', action='store_true', help='show the predictions')
    parser.add_argument(
        '--show-dir', help='save images painted with predictions here')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='seconds per --show image')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. test_dataloader.batch_size=2')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument(
        '--tta', action='store_true', help='flip and multi-scale testing')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load CHECKPOINT with the full unpickler, which can run code '
        'from the file: only for files you trust that hold more than '
        'mmengine writes')
    parser.add_argument(
        '--cityscapes-official',
        action='store_true',
        help='also evaluate with cityscapesscripts (needs the '
        '*_gtFine_labelIds.png maps of the official download)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg, args):
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise ValueError('--show and --show-dir need a `visualization` hook '
                         'in default_hooks (SegVisualizationHook)')
    hook.draw = True
    if args.show:
        hook.show = True
        hook.wait_time = args.wait_time
    if args.show_dir:
        cfg.visualizer.save_dir = args.show_dir


def add_official_evaluation(cfg):
    evaluators = cfg.test_evaluator
    if not isinstance(evaluators, list):
        evaluators = [evaluators]
    cfg.test_evaluator = [
        *evaluators,
        dict(type='mmkd.CityscapesOfficialMetric',
             output_dir=osp.join(cfg.work_dir, 'cityscapes_official'),
             keep_results=True)
    ]


def check_official_agrees(metrics):
    """Both round to 0.01; a larger gap means the two evaluations did not
    see the same labels (e.g. labelIds and labelTrainIds maps disagree)."""
    ours, official = metrics['mIoU'], metrics['cityscapes_official/mIoU']
    if abs(ours - official) > 0.01 + 1e-6:
        sys.exit(f'error: mIoU {ours:.2f} and the official Cityscapes mIoU '
                 f'{official:.2f} disagree on the same predictions')


def main():
    args = parse_args()
    cfg = load_tool_config(args.config, args.cfg_options, args.work_dir,
                           args.launcher)
    if is_distiller_config(cfg.model, cfg.get('default_scope')):
        student_config(cfg)
    check_inputs(cfg, ['test_dataloader'])
    setup_cpu_distributed(cfg)
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    if args.cityscapes_official:
        add_official_evaluation(cfg)

    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(
        cfg)
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    if args.tta:
        model = model.module
    load_state_dict_verified(
        model, student_weights(args.checkpoint, args.trust_checkpoint),
        args.checkpoint,
        what='model')
    metrics = runner.test()
    print(' '.join(f'{name}: {value:.2f}' for name, value in metrics.items()))
    if args.cityscapes_official:
        check_official_agrees(metrics)


if __name__ == '__main__':
    main()
