"""The GPU check (``tools/gpu_check.py``): the CUDA tests, then the
distill step's cost on the Cityscapes pair at 512x1024 (float32, AMP, AMP
with a bfloat16 teacher and channels_last, AMP's peaks again one process
per phase, AMP compiled).

It uses the Python it runs in (a GPU machine may bring its own torch).
Every stage runs in a process of its own under its own time limit and
writes its results when it ends: ``OUT/<stage>.log``, the step benchmarks'
``OUT/<stage>.json`` and ``.md`` (rewritten after each of their phases),
and ``OUT/gpu_check.md``, every finished stage's outcome and tables. Single
stages can run one at a time, so that a short time on a GPU can take them
one by one.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Optional, Sequence

__all__ = ['STAGES', 'run_stage', 'write_summary', 'peak_comparison',
           'run_gpu_check']

PAIR = 'mmkd::pspnet_r101_to_r18_kd.py'
STEP = ['-m', 'mmkd.benchmark.step', PAIR, '--device', 'cuda', '--crop',
        '512', '1024', '--batch', '2', '--iters', '20', '--warmup', '5']
# name -> (what it measures, time limit in seconds, arguments to python)
STAGES = {
    # the tests' file is the caller's (run_gpu_check's ``tests``)
    'tests': ('CUDA tests (tests/test_cuda.py)', 240,
              ['-m', 'pytest', '-m', 'cuda', '{tests}', '-q', '-p',
               'no:cacheprovider']),
    'step_fp32': ('distill step, float32, every loss', 150,
                  STEP + ['--compare-losses']),
    'step_amp': ('distill step, AMP (float16), every loss', 150,
                 STEP + ['--compare-losses', '--amp']),
    'step_amp_bf16_cl': (
        'distill step, AMP, bfloat16 teacher, channels_last (KD)', 90,
        STEP + ['--amp', '--cfg-options', 'model.teacher_dtype=bfloat16',
                'model.channels_last=True']),
    # The in-process peaks of step_amp (KD) against one process per phase.
    'peak_check': (
        'peaks of step_amp (KD) measured in one process per phase', 120,
        STEP + ['--amp', '--phases', 'peak:student', 'peak:teacher',
                'peak:config', '--isolated-peaks']),
    # Peaks would rebuild, and so recompile, the networks: times only.
    'step_amp_compile': (
        'distill step, AMP, torch.compile (KD, times only)', 240,
        STEP + ['--amp', '--phases', 'time', '--cfg-options',
                'model.compile=True']),
}


def run_stage(name: str, out: str, tests: Optional[str] = None) -> dict:
    """Run stage ``name`` in a process of its own under its time limit,
    its log in ``out/<name>.log``; its outcome as a dict. ``tests``: the
    CUDA tests' file, which the ``tests`` stage runs."""
    _, limit, arguments = STAGES[name]
    if '{tests}' in arguments and tests is None:
        raise ValueError(f'stage {name} runs the CUDA tests: give their file')
    arguments = [tests if argument == '{tests}' else argument
                 for argument in arguments]
    if arguments[:2] == ['-m', 'mmkd.benchmark.step']:
        arguments = arguments + ['--json', osp.join(out, f'{name}.json'),
                                 '--markdown', osp.join(out, f'{name}.md')]
    start = time.perf_counter()
    with open(osp.join(out, f'{name}.log'), 'w') as log:
        try:
            code = subprocess.run([sys.executable, *arguments],
                                  stdout=log, stderr=subprocess.STDOUT,
                                  timeout=limit).returncode
        except subprocess.TimeoutExpired:
            code = None
    return dict(returncode=code, timed_out=code is None, limit_s=limit,
                seconds=round(time.perf_counter() - start, 1))


def tests_summary(out):
    """pytest's last line (``N passed in ...``) from the tests' log."""
    with open(osp.join(out, 'tests.log')) as log:
        lines = [line.strip() for line in log if line.strip()]
    return lines[-1] if lines else '(no output)'


def peak_comparison(out):
    """Lines comparing step_amp's in-process peaks (KD) with peak_check's
    one process per phase, when both ran."""
    figures = {}
    for name in ('step_amp', 'peak_check'):
        path = osp.join(out, f'{name}.json')
        if not osp.exists(path):
            return []
        with open(path) as file:
            figures[name] = json.load(file)
    pairs = [(phase, figures['step_amp'][phase]['peak_mib'],
              figures['peak_check'][phase]['peak_mib'])
             for phase in ('student', 'teacher')]
    pairs.append(('distill (KD)',
                  figures['step_amp']['distill']['kd']['peak_mib'],
                  figures['peak_check']['distill']['config']['peak_mib']))
    lines = ['| peak MiB | in one process | one process per phase | ratio |',
             '|---|---:|---:|---:|']
    for phase, shared, isolated in pairs:
        if shared is None or isolated is None:
            continue
        lines.append(f'| {phase} | {shared:.0f} | {isolated:.0f} | '
                     f'{shared / isolated:.3f} |')
    return lines + ['']


def write_summary(out, outcomes):
    """DIR/gpu_check.json and DIR/gpu_check.md from the stages so far."""
    with open(osp.join(out, 'gpu_check.json'), 'w') as file:
        json.dump(outcomes, file, indent=1)
    parts = ['# GPU check', '', '| stage | what | outcome | seconds |',
             '|---|---|---|---:|']
    for name, outcome in outcomes.items():
        verdict = ('timed out' if outcome['timed_out'] else
                   'ok' if outcome['returncode'] == 0 else
                   f'failed ({outcome["returncode"]})')
        parts.append(f'| {name} | {STAGES[name][0]} | {verdict} | '
                     f'{outcome["seconds"]} |')
    parts.append('')
    if 'tests' in outcomes:
        parts += ['CUDA tests: ' + tests_summary(out), '']
    parts += peak_comparison(out)
    for name in outcomes:
        table = osp.join(out, f'{name}.md')
        if osp.exists(table):
            with open(table) as file:
                parts += [f'## {name}', '', file.read()]
    with open(osp.join(out, 'gpu_check.md'), 'w') as file:
        file.write('\n'.join(parts))


def run_gpu_check(out: str = 'work_dirs/gpu_check',
                  stages: Optional[Sequence[str]] = None,
                  tests: Optional[str] = None) -> dict:
    """Run ``stages`` (default: all, in order; the ``tests`` stage needs
    ``tests``, the CUDA tests' file), each in a process of its own under
    its time limit, writing ``out/gpu_check.md`` and ``.json``
    after each; returns every stage's outcome (with those of earlier runs
    of single stages into the same ``out``)."""
    out = osp.abspath(out)
    os.makedirs(out, exist_ok=True)
    summary = osp.join(out, 'gpu_check.json')
    outcomes = {}
    if stages and osp.exists(summary):  # add to the earlier stages
        with open(summary) as file:
            outcomes = json.load(file)
    for name in stages or STAGES:
        print(f'[gpu_check] {name}: {STAGES[name][0]} (limit '
              f'{STAGES[name][1]} s) ...', flush=True)
        outcomes[name] = run_stage(name, out, tests)
        write_summary(out, outcomes)
        print(f'[gpu_check] {name}: {outcomes[name]}', flush=True)
    return outcomes
