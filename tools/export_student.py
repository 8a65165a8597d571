"""Export the student of a distiller checkpoint as a plain MMSegmentation or
MMPretrain model: its checkpoint and, beside it, its config.

    python tools/export_student.py work_dirs/x/iter_80000.pth student.pth \
        [--config configs/pspnet_r101_to_r18_kd.py] [--trust-checkpoint]

Writes ``student.pth`` (the student's weights under their own names, the
training checkpoint's ``meta`` with ``cfg`` replaced by the student's
config, a checksum) and ``student.py`` (the training config with the
student as its ``model`` and MMSegmentation's loaders in place of mmkd's
checked ones; it imports mmkd only where it names a dataset of mmkd's,
e.g. DigitScapes). MMSegmentation loads the pair as any model of its zoo:
``mmseg.apis.init_model('student.py', 'student.pth')``. The weights are
loaded into the student built from that config with strict key matching
before anything is written.

The checkpoint loads with torch's weights-only unpickler; a file that needs
more (e.g. an old script's ``argparse.Namespace`` in its meta) is refused
unless ``--trust-checkpoint`` vouches for it. The exported file always
loads weights-only: meta entries that would need more are left out, and
named.
"""
import argparse
import sys

from mmkd.checkpoint import CheckpointError
from mmkd.export import export_student


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='distiller checkpoint (path/URL)')
    parser.add_argument('out', help='where to write the student checkpoint')
    parser.add_argument(
        '--config',
        help="the distiller config (default: the one saved in the "
        "checkpoint's meta by mmengine)")
    parser.add_argument(
        '--trust-checkpoint',
        action='store_true',
        help='load the checkpoint with the full unpickler, which can run '
        'code from the file: only for a file you trust')
    return parser.parse_args()


def main():
    args = parse_args()
    try:
        config, tensors, left_out = export_student(
            args.checkpoint, args.out, args.config, args.trust_checkpoint)
    except CheckpointError as error:
        sys.exit(f'error: {error}')
    if left_out:
        print(f'left out of the exported meta, as they need the full '
              f'unpickler: {left_out}')
    print(f'wrote {args.out} ({tensors} tensors) and {config}')


if __name__ == '__main__':
    main()
