"""Train a distiller, or any MMSegmentation / MMPretrain model, from a config.

    python tools/train.py configs/pspnet_r101_to_r18_kd.py [--amp] [--resume]
        [--tensorboard]

Checkpoints load with torch's weights_only unpickler: a file that needs
more is refused unless ``--trust-checkpoint`` vouches for the one resumed
or loaded from. Every checkpoint the run writes carries a checksum.
"""
import argparse
import os
import sys

from mmengine.config import DictAction

from mmkd.runner import InputError, train


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='train config file path (or '
                        'mmkd::NAME.py, a config shipped with mmkd)')
    parser.add_argument(
        '--work-dir',
        help='where logs and checkpoints go (default: ./work_dirs/<config>)')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        metavar='CHECKPOINT',
        help='resume training from CHECKPOINT; without one, from the latest '
        'checkpoint in the work dir that loads and passes its checksum')
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load the checkpoint of --resume (or load_from) with the full '
        'unpickler, which can run code from the file: only for files you '
        'trust that hold more than mmengine writes')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--tensorboard', action='store_true',
        help="also log to TensorBoard (pip install 'mmkd[tensorboard]'): "
        'event files under WORK_DIR/<timestamp>/vis_data')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. train_cfg.max_iters=1000')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main():
    args = parse_args()
    try:
        train(args.config, args.work_dir, args.cfg_options, args.resume,
              args.trust_checkpoint, args.amp, args.tensorboard,
              args.launcher)
    except InputError as error:
        sys.exit(str(error))


if __name__ == '__main__':
    main()
