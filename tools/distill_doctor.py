"""Check a distiller config before a long training (mmkd.doctor).

    python tools/distill_doctor.py CONFIG [--val-batches 4] [--steps 3]
        [--device cpu|cuda] [--json FILE] [--cfg-options KEY=VALUE ...]

On a few batches of the config's own data, without saving anything: the
teacher's accuracy (an error near chance, with the causes it can check),
each distill pair's shapes, the distill losses' pull on the student against
the task loss's at its initial weights (with the loss_weight that would
balance them), and a few training steps (finite losses, time per
iteration, peak memory, the schedule's projected time). Exits with 1 when
a check finds an error.
"""
import argparse
import sys

from mmengine.config import DictAction

from mmkd.doctor import diagnose
from mmkd.runner import InputError


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='a distiller config (path, or '
                        'mmkd::NAME.py)')
    parser.add_argument('--val-batches', type=int, default=4,
                        help='val batches to score the teacher on')
    parser.add_argument('--steps', type=int, default=3,
                        help='training steps to run')
    parser.add_argument('--device', choices=['cpu', 'cuda'],
                        help='default: cuda when available')
    parser.add_argument('--json', metavar='FILE',
                        help='also write the report as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        report = diagnose(args.config, args.cfg_options, args.val_batches,
                          args.steps, args.device)
    except InputError as error:
        sys.exit(str(error))
    print(report.text())
    if args.json:
        with open(args.json, 'w') as file:
            file.write(report.json() + '\n')
    sys.exit(0 if report.ok else 1)


if __name__ == '__main__':
    main()
