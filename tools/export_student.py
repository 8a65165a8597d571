"""Export the student of a distiller checkpoint as a plain MMSegmentation or
MMPretrain model: its checkpoint and, beside it, its config.

    python tools/export_student.py work_dirs/x/iter_80000.pth student.pth \
        [--config configs/pspnet_r101_to_r18_kd.py] [--trust-checkpoint]

Writes ``student.pth`` (the student's weights under their own names, and
the training checkpoint's ``meta`` with ``cfg`` replaced by the student's
config) and ``student.py`` (the training config with the student as its
``model`` and MMSegmentation's loaders in place of mmkd's checked ones; it
imports mmkd only where a dataset of mmkd's is named, e.g. DigitScapes). MMSegmentation loads the pair as any model of
its zoo: ``mmseg.apis.init_model('student.py', 'student.pth')`` or its
``tools/test.py student.py student.pth`` (with mmcv-lite, import mmkd
first: its compat layer lets ``mmseg.apis`` import without compiled ops).
Before writing, the weights are
loaded into the student built from that config with strict key matching.

The checkpoint loads with torch's weights-only unpickler; a file that needs
more (e.g. an old script's ``argparse.Namespace`` in its meta) is refused
unless ``--trust-checkpoint`` vouches for it. The exported file always
loads weights-only: meta entries that would need more are left out, and
named.
"""
import argparse
import io
import os
import os.path as osp
import pickle
import sys

import torch
from mmengine.config import Config

from mmkd.apis import exported_config, is_distiller_config
from mmkd.checkpoint import (CheckpointError, add_checksum,
                             load_checkpoint_file, load_state_dict_verified,
                             state_dict_of)
from mmkd.models.distillers.base import build_in_scope

STUDENT_PREFIX = 'student.'


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


def loads_weights_only(value) -> bool:
    """Whether ``value`` comes back from torch.save through the
    weights-only unpickler."""
    buffer = io.BytesIO()
    torch.save(value, buffer)
    buffer.seek(0)
    try:
        torch.load(buffer, weights_only=True)
    except pickle.UnpicklingError:
        return False
    return True


def distiller_config(args, meta: dict) -> Config:
    if args.config is not None:
        return Config.fromfile(args.config)
    if 'cfg' not in meta:
        raise CheckpointError(
            f'{args.checkpoint} has no config in its meta (not written by '
            "mmengine's runner?): pass the distiller config with --config")
    return Config.fromstring(meta['cfg'], file_format='.py')


def student_weights_strict(checkpoint: dict, source: str) -> dict:
    state_dict = state_dict_of(checkpoint, source)
    student = {key[len(STUDENT_PREFIX):]: value
               for key, value in state_dict.items()
               if key.startswith(STUDENT_PREFIX)}
    if not student:
        raise CheckpointError(
            f'{source} holds no student.* weights: not a distiller '
            'checkpoint')
    return student


def main():
    args = parse_args()
    try:
        checkpoint = load_checkpoint_file(args.checkpoint,
                                          trust=args.trust_checkpoint)
        meta = dict(checkpoint.get('meta') or {})
        cfg = distiller_config(args, meta)
        if not is_distiller_config(cfg.model, cfg.get('default_scope')):
            raise CheckpointError(
                f'the config of {args.checkpoint} is not a distiller config '
                f'(model type {cfg.model.type!r}); nothing to export')
        cfg = exported_config(cfg)
        weights = student_weights_strict(checkpoint, args.checkpoint)
        student = build_in_scope(cfg.model, cfg.get('default_scope'))
        load_state_dict_verified(student, weights, args.checkpoint,
                                 what='student')
    except CheckpointError as error:
        sys.exit(f'error: {error}')

    config_path = osp.splitext(args.out)[0] + '.py'
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cfg.dump(config_path)
    meta['cfg'] = cfg.pretty_text
    meta['exported_from'] = args.checkpoint
    unsafe = [key for key, value in meta.items()
              if not loads_weights_only(value)]
    for key in unsafe:
        del meta[key]
    if unsafe:
        print(f'left out of the exported meta, as they need the full '
              f'unpickler: {unsafe}')
    torch.save(add_checksum({'state_dict': weights, 'meta': meta}), args.out)
    print(f'wrote {args.out} ({len(weights)} tensors) and {config_path}')


if __name__ == '__main__':
    main()
