"""Run tools/train.py and tools/test.py as a user would, in child
processes, for the demo and the method benchmark: progress on the terminal,
the whole log in the work dir, the figures parsed back."""
import hashlib
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

from mmkd.curves import CurveError, read_scalars

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# mmengine's Config.fromfile edits sys.path and sys.modules while it
# imports a config: two threads loading configs at once can break or hang.
CONFIG_LOCK = threading.Lock()
# MMSegmentation's per-class table: | class | IoU | Acc |
CLASS_ROW = re.compile(r'^\|\s*(\S[^|]*?)\s*\|\s*([\d.]+|nan)\s*\|'
                       r'\s*([\d.]+|nan)\s*\|$')
FIGURE = re.compile(r'([\w/]+): (-?[\d.]+)')


class RunError(RuntimeError):
    """A tool run failed; the message names its log."""


def run_tool(tool: str, args: List[str], log_path: str,
             show: Tuple[str, ...] = ('Iter(train)', 'Iter(val)'),
             threads: Optional[int] = None) -> str:
    """Run ``tools/<tool>`` with ``args`` from the repository root, print
    the log lines holding any of ``show`` as they come (nothing when
    ``show`` is empty), write the whole log to ``log_path``; return the log.
    ``threads`` caps the child's CPU threads (``OMP_NUM_THREADS``), for
    runs side by side."""
    command = [sys.executable, osp.join('tools', tool), *args]
    if show:
        print('$ ' + ' '.join(command), flush=True)
    os.makedirs(osp.dirname(osp.join(ROOT, log_path)), exist_ok=True)
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    lines = []
    with open(osp.join(ROOT, log_path), 'w') as log, subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, env=env) as process:
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


def threads_each(side_by_side: int) -> int:
    """CPU threads for each of ``side_by_side`` runs that share the cores
    (at least one)."""
    return max(1, (os.cpu_count() or 1) // side_by_side)


def train(config: str, work_dir: str, options: List[str] = (),
          quiet: bool = False, threads: Optional[int] = None) -> Tuple[
              str, float]:
    """Train ``config`` into ``work_dir``; returns the last checkpoint and
    the wall time in seconds. ``quiet``: print nothing of the log."""
    start = time.perf_counter()
    run_tool('train.py',
             [config, '--work-dir', work_dir, *(
                 ['--cfg-options', *options] if options else [])],
             osp.join(work_dir, 'train.log'),
             show=() if quiet else ('Iter(train)', 'Iter(val)'),
             threads=threads)
    with open(osp.join(ROOT, work_dir, 'last_checkpoint')) as file:
        checkpoint = file.read().strip()
    return checkpoint, time.perf_counter() - start


def test(config: str, checkpoint: str, work_dir: str,
         metric: str = 'mIoU', options: List[str] = (),
         threads: Optional[int] = None) -> Dict:
    """``tools/test.py`` on ``checkpoint`` (``options``: its
    ``--cfg-options``): the figures of the log line that holds ``metric``
    (for MMSegmentation ``aAcc``, ``mIoU``, ``mAcc``; for MMPretrain
    ``accuracy/top1``) and ``per_class`` (segmentation: class name -> IoU,
    NaN where the class is absent; else empty)."""
    log = run_tool('test.py', [config, checkpoint, '--work-dir', work_dir,
                               *(['--cfg-options', *options] if options
                                 else [])],
                   osp.join(work_dir, 'test.log'), show=(), threads=threads)
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


def write_missing(datasets: Tuple[Tuple[str, str, Callable[[str], str]],
                                  ...]):
    """``datasets``: (root under the repository, a folder under it that the
    writer makes last, writer); writes each dataset whose folder is
    missing (an older layout lacks it too, e.g. the test split)."""
    for root, last_folder, write in datasets:
        if not osp.isdir(osp.join(ROOT, root, last_folder)):
            print(f'writing {root}', flush=True)
            write(osp.join(ROOT, root))


def settings_digest(config: str, options: List[str] = (),
                    upstream: Tuple[str, ...] = ()) -> str:
    """What a run trains, resolved: ``config`` with its ``--cfg-options``
    merged, and the digests of the runs it starts from (a teacher, a
    pretrained backbone), so that retraining those retrains it."""
    from mmengine.config import Config, DictAction
    with CONFIG_LOCK:
        cfg = Config.fromfile(osp.join(ROOT, config))
        cfg.merge_from_dict({
            key: DictAction._parse_iterable(value)
            for key, value in (option.split('=', 1) for option in options)})
        text = '\n'.join([cfg.pretty_text, *upstream])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trained(config: str, work_dir: str, options: List[str] = (),
            upstream: Tuple[str, ...] = (), reuse: bool = True,
            quiet: bool = False, threads: Optional[int] = None) -> Dict:
    """Train ``config`` into ``work_dir`` unless ``reuse`` and an earlier
    run there trained the same settings (:func:`settings_digest`) on as
    many ``threads``: the thread count changes the order of floating-point
    sums, so the same settings on other threads give other weights (a demo
    and the benchmark share the pretraining and teacher runs). Returns the
    run's record, also kept as ``work_dir/run.json``: ``settings`` (the
    digest), ``threads``, ``checkpoint``, ``train_seconds`` (of the run
    that trained it), ``command``, ``reused``."""
    digest = settings_digest(config, options, upstream)
    record_path = osp.join(ROOT, work_dir, 'run.json')
    if reuse and osp.exists(record_path):
        with open(record_path) as file:
            record = json.load(file)
        if record['settings'] == digest and record.get(
                'threads') == threads and osp.exists(
                    osp.join(ROOT, record['checkpoint'])):
            return dict(record, reused=True)
    checkpoint, seconds = train(config, work_dir, options, quiet=quiet,
                                threads=threads)
    record = dict(
        settings=digest, threads=threads,
        checkpoint=osp.relpath(checkpoint, ROOT)
        if osp.isabs(checkpoint) else checkpoint,
        train_seconds=seconds,
        command=' '.join(['python tools/train.py', config, '--work-dir',
                          work_dir, *(['--cfg-options', *options]
                                      if options else [])]))
    with open(record_path, 'w') as file:
        json.dump(record, file, indent=1)
    return dict(record, reused=False)


def val_curve(work_dir: str, metric: str) -> List[Tuple[int, float]]:
    """``[(step, value)]`` of ``metric`` at every validation of the training
    run in ``work_dir``, from mmengine's ``vis_data/scalars.json`` (the
    step is the iteration, or the epoch for epoch-based runs)."""
    try:
        records = read_scalars(osp.join(ROOT, work_dir))
    except CurveError as error:
        raise RunError(str(error)) from error
    return [(record['step'], record[metric]) for record in records
            if metric in record]


def mean_and_std(values: List[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(
        sum((v - mean)**2 for v in values) / (len(values) - 1))


def paired_interval(values: List[float],
                    baseline: List[float]) -> Tuple[float, float, float]:
    """Mean of the per-seed differences ``values - baseline`` and its 95 %
    t-interval ``(mean, low, high)``; for one pair the interval is
    unbounded."""
    if len(values) != len(baseline):
        raise ValueError(f'{len(values)} values against {len(baseline)} '
                         'baseline values: pairs need one of each per seed')
    differences = [v - b for v, b in zip(values, baseline)]
    mean, std = mean_and_std(differences)
    if len(differences) < 2:
        return mean, -math.inf, math.inf
    from scipy.stats import t  # scikit-learn's dependency, the runs' only use
    half = t.ppf(0.975, len(differences) - 1) * std / math.sqrt(
        len(differences))
    return mean, mean - half, mean + half
