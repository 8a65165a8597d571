"""tools/benchmark_step.py runs, reports the figures it measured and the
ratios between them. It times nothing here: timings are its job, on a
quiet machine, not the tests'."""
import json
import os.path as osp
import statistics
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def benchmark(*args):
    return subprocess.run(
        [sys.executable, 'tools/benchmark_step.py', *args], cwd=ROOT,
        capture_output=True, text=True)


def median_ratio(numerators, denominators):
    return statistics.median(n / d for n, d in zip(numerators, denominators))


def check_figures(figures, methods, rounds):
    """The summary is what the raw per-round times and the peaks give."""
    times = figures['rounds']
    assert all(len(values) == rounds and min(values) > 0
               for values in times.values())
    student, teacher = figures['student'], figures['teacher']
    assert student['train_ms'] == statistics.median(times['student'])
    assert teacher['forward_ms'] == statistics.median(times['teacher'])
    assert student['peak_mib'] > 0 and teacher['peak_mib'] > 0
    floor = [s + t for s, t in zip(times['student'], times['teacher'])]
    assert set(figures['distill']) == set(methods)
    for name, distill in figures['distill'].items():
        step = times[f'distill:{name}']
        assert distill['overhead'] == pytest.approx(median_ratio(step, floor))
        assert distill['loss_share'] == pytest.approx(
            median_ratio(times[f'losses:{name}'], step))
        assert distill['memory_ratio'] == pytest.approx(
            distill['peak_mib'] / (student['peak_mib'] + teacher['peak_mib']))
        assert 0 < distill['losses_ms'] < distill['train_ms']
    validation = figures['validation']
    assert validation['ratio'] == pytest.approx(
        median_ratio(times['distill_val'], times['student_val']))


def test_segmentation_every_loss_on_one_pair(tmp_path):
    out = tmp_path / 'step.json'
    result = benchmark(
        'configs/digitscapes/pspnet_r18w16_to_r18w8_digitscapes_kd.py',
        '--crop', '32', '64', '--batch', '2', '--iters', '2', '--warmup',
        '0', '--compare-losses', '--json', str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(out.read_text())
    check_figures(figures, ['kd', 'bdd', 'dist', 'cwd', 'pcd'], rounds=2)
    assert figures['args']['crop'] == [32, 64]
    table = result.stdout
    assert 'student train step (a)' in table and 'c/(a+b)' in table
    for method, distill in figures['distill'].items():
        assert f'{method:<12}{distill["train_ms"]:>10.1f}' in table


def test_classification_config_losses(tmp_path):
    out = tmp_path / 'step.json'
    result = benchmark(
        'configs/digits/resnet50_to_resnet18_digits_bdd.py', '--crop', '16',
        '16', '--batch', '4', '--iters', '1', '--warmup', '0', '--json',
        str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    check_figures(json.loads(out.read_text()), ['config'], rounds=1)


def test_amp_needs_cuda():
    result = benchmark(
        'configs/digits/resnet50_to_resnet18_digits_kd.py', '--amp')
    assert result.returncode == 2
    assert '--amp needs --device cuda' in result.stderr


def test_a_config_without_a_distiller_is_refused():
    result = benchmark('configs/digits/resnet18_digits.py')
    assert result.returncode == 1
    assert "model.type is 'ImageClassifier', not a distiller" in \
        result.stderr
