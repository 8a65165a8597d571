"""Run tools/train.py and tools/test.py as a user would, in child
processes, for the demo and the method benchmark: progress on the terminal,
the whole log in the work dir, the figures parsed back."""
import math
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# MMSegmentation's per-class table: | class | IoU | Acc |
CLASS_ROW = re.compile(r'^\|\s*(\S[^|]*?)\s*\|\s*([\d.]+|nan)\s*\|'
                       r'\s*([\d.]+|nan)\s*\|$')
FIGURE = re.compile(r'([\w/]+): (-?[\d.]+)')


class RunError(RuntimeError):
    """A tool run failed; the message names its log."""


def run_tool(tool: str, args: List[str], log_path: str,
             show: Tuple[str, ...] = ('Iter(train)', 'Iter(val)')) -> str:
    """Run ``tools/<tool>`` with ``args`` from the repository root, print
    the log lines holding any of ``show`` as they come, write the whole log
    to ``log_path``; return the log."""
    command = [sys.executable, osp.join('tools', tool), *args]
    print('$ ' + ' '.join(command), flush=True)
    os.makedirs(osp.dirname(osp.abspath(log_path)), exist_ok=True)
    lines = []
    with open(log_path, 'w') as log, subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True) as process:
        for line in process.stdout:
            log.write(line)
            lines.append(line)
            if any(marker in line for marker in show):
                print('  ' + re.sub(r'^.* - INFO - ', '', line.rstrip())[:150],
                      flush=True)
    if process.returncode != 0:
        tail = ''.join(lines[-30:])
        raise RunError(f'{" ".join(command)} failed (exit code '
                       f'{process.returncode}); whole log: {log_path}\n{tail}')
    return ''.join(lines)


def train(config: str, work_dir: str, options: List[str] = ()) -> Tuple[
        str, float]:
    """Train ``config`` into ``work_dir``; returns the last checkpoint and
    the wall time in seconds."""
    start = time.perf_counter()
    run_tool('train.py',
             [config, '--work-dir', work_dir, *(
                 ['--cfg-options', *options] if options else [])],
             osp.join(work_dir, 'train.log'))
    with open(osp.join(ROOT, work_dir, 'last_checkpoint')) as file:
        checkpoint = file.read().strip()
    return checkpoint, time.perf_counter() - start


def test(config: str, checkpoint: str, work_dir: str,
         metric: str = 'mIoU') -> Dict:
    """``tools/test.py`` on ``checkpoint``: the figures of the log line
    that holds ``metric`` (for MMSegmentation ``aAcc``, ``mIoU``, ``mAcc``;
    for MMPretrain ``accuracy/top1``) and ``per_class`` (segmentation: class
    name -> IoU, NaN where the class is absent; else empty)."""
    log = run_tool('test.py', [config, checkpoint, '--work-dir', work_dir],
                   osp.join(work_dir, 'test.log'), show=())
    return parse_test_log(log, checkpoint, metric)


def parse_test_log(log: str, checkpoint: str, metric: str = 'mIoU') -> Dict:
    """The figures of the last test in ``log``, as :func:`test` returns."""
    summary = [line for line in log.splitlines() if f'{metric}:' in line]
    if not summary:
        raise RunError(f'no {metric} in the log of testing {checkpoint}')
    figures = {name: float(value)
               for name, value in FIGURE.findall(summary[-1])}
    table = log.split('per class results:')[-1].splitlines()
    per_class = {}
    for line in table:
        match = CLASS_ROW.match(line.strip())
        if match and match.group(1) != 'Class':
            per_class[match.group(1)] = float(match.group(2))
    figures['per_class'] = per_class
    return figures


def mean_and_std(values: List[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(
        sum((v - mean)**2 for v in values) / (len(values) - 1))
