"""tools/benchmark_step.py (mmkd.benchmark.step) runs, reports the figures
it measured and the ratios between them. It times nothing here: timings are its job, on a
quiet machine, not the tests'."""
import json
import re
import os.path as osp
import statistics
import subprocess
import sys

import pytest

from mmkd.benchmark import gpu_check, memory, step
from mmkd.benchmark.stats import median_ratio

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def benchmark(*args):
    return subprocess.run(
        [sys.executable, 'tools/benchmark_step.py', *args], cwd=ROOT,
        capture_output=True, text=True)


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
        'configs/digits/resnet18w16_to_resnet18w4_digits_bdd.py', '--crop',
        '16', '16', '--batch', '4', '--iters', '1', '--warmup', '0', '--json',
        str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    check_figures(json.loads(out.read_text()), ['config'], rounds=1)


def test_amp_needs_cuda():
    result = benchmark(
        'configs/digits/resnet18w16_to_resnet18w4_digits_kd.py', '--amp')
    assert result.returncode == 2
    assert '--amp needs --device cuda' in result.stderr


def test_a_config_without_a_distiller_is_refused():
    result = benchmark('configs/digits/resnet18w4_digits.py')
    assert result.returncode == 1
    assert "model.type is 'ImageClassifier', not a distiller" in \
        result.stderr


def test_a_subset_of_phases_leaves_the_others_blank(tmp_path):
    out, table = tmp_path / 'step.json', tmp_path / 'step.md'
    result = benchmark(
        'configs/digitscapes/pspnet_r18w16_to_r18w8_digitscapes_kd.py',
        '--crop', '32', '64', '--iters', '1', '--warmup', '0', '--phases',
        'time', 'peak:student', '--json', str(out), '--markdown', str(table))
    assert result.returncode == 0, result.stderr[-3000:]
    # one progress line per phase, as it starts and as it ends
    assert '[benchmark_step] phase 1 of 2: time ...' in result.stderr
    assert '[benchmark_step] peak:student done in' in result.stderr
    figures = json.loads(out.read_text())
    assert figures['phases_done'] == ['time', 'peak:student']
    assert figures['student']['peak_mib'] > 0
    assert figures['teacher']['peak_mib'] is None
    distill = figures['distill']['config']
    assert distill['peak_mib'] is None and distill['memory_ratio'] is None
    assert distill['overhead'] == pytest.approx(median_ratio(
        figures['rounds']['distill:config'],
        [s + t for s, t in zip(figures['rounds']['student'],
                               figures['rounds']['teacher'])]))
    rows = table.read_text().splitlines()
    assert f'| config | {distill["train_ms"]:.1f} | - | ' \
        f'{distill["overhead"]:.3f} |' in '\n'.join(rows)
    assert rows[0].startswith(
        'configs/digitscapes/pspnet_r18w16_to_r18w8_digitscapes_kd.py: '
        'batch 2, crop 32x64, cpu')
    assert 'CPU' in rows[0] and 'torch' in rows[0]


def test_an_unknown_phase_is_named(tmp_path):
    result = benchmark(
        'configs/digitscapes/pspnet_r18w16_to_r18w8_digitscapes_kd.py',
        '--phases', 'peak:kd')
    assert result.returncode == 1
    assert "phases ['peak:kd'] are not among the phases of this run: " \
        "['time', 'peak:student', 'peak:teacher', 'peak:config']" in \
        result.stderr


class ResettableResidentSet:
    """A stand-in for CUDA's counters on the CPU: this process's resident
    set, whose peak Linux resets on writing 5 to /proc/self/clear_refs."""
    resets = 0

    def reset(self):
        with open('/proc/self/clear_refs', 'w') as file:
            file.write('5')
        type(self).resets += 1

    def now(self):
        return memory.resident_mib('VmRSS')

    def peak(self):
        return memory.resident_mib('VmHWM')


def test_phases_in_one_process_reset_the_peak_before_each(tmp_path,
                                                          monkeypatch):
    """The CUDA path, every phase in this process, with a counter whose
    peak resets: each phase is measured from its own start."""
    monkeypatch.setitem(memory.COUNTERS, 'cpu', ResettableResidentSet)
    monkeypatch.chdir(tmp_path)  # nothing depends on the repository
    config = 'mmkd::digitscapes/pspnet_r18w16_to_r18w8_digitscapes_kd.py'
    cfg = step.load_job_config(dict(config=config, cfg_options={},
                                    teacher_checkpoint=None, crop=[32, 64]))
    job = dict(config=config, cfg_options={}, crop=[32, 64], batch=2,
               iters=1, warmup=0, device='cpu', amp=False, in_process=True,
               teacher_checkpoint=step.initial_teacher_checkpoint(
                   cfg, str(tmp_path)))
    methods = {'config': None}
    before = ResettableResidentSet.resets
    # a phase that leaves a large block behind in this process ...
    hog = bytearray(512 * 2**20)
    del hog
    peaks = [step.run_phase(phase, job, methods)
             for phase in ('peak:student', 'peak:teacher', 'peak:config')]
    assert ResettableResidentSet.resets - before == 3
    # ... is not in the next phase's peak: each is far below 512 MiB
    assert all(0 < peak < 256 for peak in peaks), peaks
    times = step.run_phase('time', job, methods)
    assert set(times) >= {'student', 'teacher', 'distill:config'}


def test_gpu_check_runs_a_stage_and_writes_its_outcome(tmp_path):
    """Here, without a GPU, its tests stage skips every CUDA test and
    passes; the summary names the stage, its outcome and pytest's line."""
    result = subprocess.run(
        [sys.executable, 'tools/gpu_check.py', '--out', str(tmp_path),
         '--stage', 'tests'], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads((tmp_path / 'gpu_check.json').read_text())
    assert list(outcome) == ['tests']
    assert outcome['tests']['returncode'] == 0
    assert not outcome['tests']['timed_out']
    summary = (tmp_path / 'gpu_check.md').read_text()
    assert '| tests | CUDA tests (tests/test_cuda.py) | ok |' in summary
    # pytest's own line, e.g. '5 skipped, 1 warning in 2.00s'.
    assert re.search(r'CUDA tests: \d+ skipped(, \d+ warnings?)? in',
                     summary), summary


def test_gpu_check_compares_shared_and_isolated_peaks(tmp_path):
    assert gpu_check.peak_comparison(str(tmp_path)) == []  # nothing ran
    (tmp_path / 'step_amp.json').write_text(json.dumps(dict(
        student=dict(peak_mib=100.0), teacher=dict(peak_mib=50.0),
        distill=dict(kd=dict(peak_mib=120.0), bdd=dict(peak_mib=1.0)))))
    (tmp_path / 'peak_check.json').write_text(json.dumps(dict(
        student=dict(peak_mib=104.0), teacher=dict(peak_mib=None),
        distill=dict(config=dict(peak_mib=125.0)))))
    lines = gpu_check.peak_comparison(str(tmp_path))
    assert '| student | 100 | 104 | 0.962 |' in lines
    assert '| distill (KD) | 120 | 125 | 0.960 |' in lines
    assert not any(line.startswith('| teacher') for line in lines)


def test_losses_that_name_modules(tmp_path):
    """The auxiliary heads' and the bottleneck features' losses time on
    the tensors a training step hands them (captured, through the
    connector; with the labels for IFVD's)."""
    for method in ('dist_aux', 'cwd_feat', 'ifvd'):
        out = tmp_path / f'{method}.json'
        result = benchmark(
            'configs/digitscapes/'
            f'pspnet_r18w16_to_r18w8_digitscapes_{method}.py', '--crop',
            '32', '64', '--batch', '2', '--iters', '1', '--warmup', '0',
            '--phases', 'time', '--json', str(out))
        assert result.returncode == 0, result.stderr[-3000:]
        figures = json.loads(out.read_text())
        assert 0 < figures['distill']['config']['losses_ms'] < \
            figures['distill']['config']['train_ms']
