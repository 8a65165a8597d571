"""mmkd.curves and tools/plot_curves.py on scalars written here in
mmengine's format."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from mmkd.curves import CurveError, curves, read_scalars

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def write_run(work_dir, records):
    scalars = work_dir / '20261126_000000' / 'vis_data'
    scalars.mkdir(parents=True)
    (scalars / 'scalars.json').write_text(
        ''.join(json.dumps(record) + '\n' for record in records))
    return work_dir


RECORDS = [
    {'lr': 0.01, 'loss': 1.5, 'decode.loss_ce': 1.0, 'aux.loss_ce': 0.3,
     'decode.acc_seg': 60.0, 'distill.loss_kd': 0.2, 'step': 10},
    {'lr': 0.01, 'loss': 1.1, 'decode.loss_ce': 0.7, 'aux.loss_ce': 0.2,
     'decode.acc_seg': 70.0, 'distill.loss_kd': 0.2, 'step': 20},
    {'aAcc': 90.0, 'mIoU': 41.5, 'mAcc': 50.0, 'step': 20},
]


def test_scalars_sorted_into_own_losses_distill_terms_and_validation(
        tmp_path):
    records = read_scalars(str(write_run(tmp_path / 'run', RECORDS)))
    assert records == RECORDS
    assert curves(records) == {
        'own': {'decode.loss_ce': [(10, 1.0), (20, 0.7)],
                'aux.loss_ce': [(10, 0.3), (20, 0.2)]},
        'distill': {'distill.loss_kd': [(10, 0.2), (20, 0.2)]},
        'val': {'mIoU': [(20, 41.5)]}}
    # classification: the top-1 accuracy is the validation metric
    assert curves([{'cls.loss': 2.0, 'step': 1},
                   {'accuracy/top1': 55.0, 'step': 1}])['val'] == {
                       'accuracy/top1': [(1, 55.0)]}
    with pytest.raises(CurveError, match='no <timestamp>/vis_data'):
        read_scalars(str(tmp_path / 'absent'))


def plot(*args):
    return subprocess.run(
        [sys.executable, 'tools/plot_curves.py', *args], cwd=ROOT,
        capture_output=True, text=True)


def test_the_tool_overlays_runs_in_one_png(tmp_path):
    first = write_run(tmp_path / 'a', RECORDS)
    second = write_run(tmp_path / 'b', RECORDS[:1])
    out = tmp_path / 'curves.png'
    result = plot(str(first), str(second), '--out', str(out), '--labels',
                  'student', 'kd')
    assert result.returncode == 0, result.stderr[-3000:]
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    result = plot(str(first), '--out', str(out), '--labels', 'a', 'b')
    assert result.returncode == 2
    assert '2 labels for 1 work dirs' in result.stderr
    result = plot(str(tmp_path / 'absent'), '--out', str(out))
    assert result.returncode == 1
    assert f'error: {tmp_path / "absent"}: no <timestamp>' in result.stderr
