"""Training and testing runs for the demo and the method benchmark, each in
a child process (:mod:`mmkd.benchmark.child`): progress on the terminal,
the whole log in the work dir, the figures parsed back; and the reuse of a
run whose resolved settings have not changed.

Paths (configs, work dirs, logs) are as the user gives them: relative ones
are relative to the current directory, where the child runs too.
"""
import hashlib
import json
import os
import os.path as osp
import re
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from mmkd.curves import CurveError, read_scalars

__all__ = ['RunError', 'run_child', 'threads_each', 'train', 'test',
           'parse_test_log', 'write_missing', 'settings_digest', 'trained',
           'val_curve', 'train_command']

# mmengine's Config.fromfile edits sys.path and sys.modules while it
# imports a config: two threads loading configs at once can break or hang.
CONFIG_LOCK = threading.Lock()
# MMSegmentation's per-class table: | class | IoU | Acc |
CLASS_ROW = re.compile(r'^\|\s*(\S[^|]*?)\s*\|\s*([\d.]+|nan)\s*\|'
                       r'\s*([\d.]+|nan)\s*\|$')
FIGURE = re.compile(r'([\w/]+): (-?[\d.]+)')


class RunError(RuntimeError):
    """A run failed; the message names its log."""


def run_child(command: str, arguments: dict, log_path: str,
              show: Tuple[str, ...] = ('Iter(train)', 'Iter(val)'),
              threads: Optional[int] = None) -> str:
    """Run :func:`mmkd.runner.train` (``command='train'``) or ``test`` with
    ``arguments`` in a child process, print the log lines holding any of
    ``show`` as they come (nothing when ``show`` is empty), write the whole
    log to ``log_path``; return the log. ``threads`` caps the child's CPU
    threads (``OMP_NUM_THREADS``), for runs side by side."""
    child = [sys.executable, '-m', 'mmkd.benchmark.child', command,
             json.dumps(arguments)]
    if show:
        print(f'$ {command} {arguments}', flush=True)
    os.makedirs(osp.dirname(osp.abspath(log_path)), exist_ok=True)
    env = dict(os.environ)
    if threads:
        env['OMP_NUM_THREADS'] = str(threads)
    lines = []
    with open(log_path, 'w') as log, subprocess.Popen(
            child, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env) as process:
        for line in process.stdout:
            log.write(line)
            lines.append(line)
            if any(marker in line for marker in show):
                print('  ' + re.sub(r'^.* - INFO - ', '', line.rstrip())[:150],
                      flush=True)
    if process.returncode != 0:
        tail = ''.join(lines[-30:])
        raise RunError(f'{command} {arguments} failed (exit code '
                       f'{process.returncode}); whole log: {log_path}\n'
                       f'{tail}')
    return ''.join(lines)


def threads_each(side_by_side: int) -> int:
    """CPU threads for each of ``side_by_side`` runs that share the cores
    (at least one)."""
    return max(1, (os.cpu_count() or 1) // side_by_side)


def train_command(config: str, work_dir: str,
                  options: Sequence[str] = ()) -> str:
    """The ``tools/train.py`` command line that trains the same run."""
    return ' '.join(['python tools/train.py', config, '--work-dir', work_dir,
                     *(['--cfg-options', *options] if options else [])])


def train(config: str, work_dir: str, options: Sequence[str] = (),
          quiet: bool = False, threads: Optional[int] = None
          ) -> Tuple[str, float]:
    """Train ``config`` into ``work_dir`` with ``options`` (``key=value``
    strings, as ``--cfg-options`` takes them); returns the last checkpoint
    and the wall time in seconds. ``quiet``: print nothing of the log."""
    start = time.perf_counter()
    run_child('train', dict(config=config, work_dir=work_dir,
                            cfg_options=_parsed(options)),
              osp.join(work_dir, 'train.log'),
              show=() if quiet else ('Iter(train)', 'Iter(val)'),
              threads=threads)
    with open(osp.join(work_dir, 'last_checkpoint')) as file:
        checkpoint = file.read().strip()
    return checkpoint, time.perf_counter() - start


def _parsed(options: Sequence[str]) -> dict:
    from mmkd.runner import parse_cfg_options
    return parse_cfg_options(options)


def test(config: str, checkpoint: str, work_dir: str,
         metric: str = 'mIoU', options: Sequence[str] = (),
         threads: Optional[int] = None) -> Dict:
    """Test ``checkpoint`` (``options``: ``--cfg-options`` strings): the
    figures of the log line that holds ``metric`` (for MMSegmentation
    ``aAcc``, ``mIoU``, ``mAcc``; for MMPretrain ``accuracy/top1``) and
    ``per_class`` (segmentation: class name -> IoU, NaN where the class is
    absent; else empty)."""
    log = run_child('test', dict(config=config, checkpoint=checkpoint,
                                 work_dir=work_dir,
                                 cfg_options=_parsed(options)),
                    osp.join(work_dir, 'test.log'), show=(),
                    threads=threads)
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


def write_missing(datasets: Iterable[Tuple[str, str, Callable[[str], str]]]
                  ) -> None:
    """``datasets``: (root, a folder under it that the writer makes last,
    writer); writes each dataset whose folder is missing (an older layout
    lacks it too, e.g. the test split)."""
    for root, last_folder, write in datasets:
        if not osp.isdir(osp.join(root, last_folder)):
            print(f'writing {root}', flush=True)
            write(root)


def settings_digest(config: str, options: Sequence[str] = (),
                    upstream: Tuple[str, ...] = ()) -> str:
    """What a run trains, resolved: ``config`` with its ``--cfg-options``
    merged, and the digests of the runs it starts from (a teacher, a
    pretrained backbone), so that retraining those retrains it."""
    from mmkd.runner import load_config
    with CONFIG_LOCK:
        cfg = load_config(config, _parsed(options))
        cfg.pop('work_dir', None)
        cfg.pop('launcher', None)
        text = '\n'.join([cfg.pretty_text, *upstream])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trained(config: str, work_dir: str, options: Sequence[str] = (),
            upstream: Tuple[str, ...] = (), reuse: bool = True,
            quiet: bool = False, threads: Optional[int] = None) -> Dict:
    """Train ``config`` into ``work_dir`` unless ``reuse`` and an earlier
    run there trained the same settings (:func:`settings_digest`) on as
    many ``threads``: the thread count changes the order of floating-point
    sums, so the same settings on other threads give other weights. Returns
    the run's record, also kept as ``work_dir/run.json``: ``settings`` (the
    digest), ``threads``, ``checkpoint``, ``train_seconds`` (of the run
    that trained it), ``command``, ``reused``."""
    digest = settings_digest(config, options, upstream)
    record_path = osp.join(work_dir, 'run.json')
    if reuse and osp.exists(record_path):
        with open(record_path) as file:
            record = json.load(file)
        if record['settings'] == digest and record.get(
                'threads') == threads and osp.exists(record['checkpoint']):
            return dict(record, reused=True)
    checkpoint, seconds = train(config, work_dir, options, quiet=quiet,
                                threads=threads)
    record = dict(settings=digest, threads=threads, checkpoint=checkpoint,
                  train_seconds=seconds,
                  command=train_command(config, work_dir, options))
    with open(record_path, 'w') as file:
        json.dump(record, file, indent=1)
    return dict(record, reused=False)


def val_curve(work_dir: str, metric: str) -> List[Tuple[int, float]]:
    """``[(step, value)]`` of ``metric`` at every validation of the training
    run in ``work_dir``, from mmengine's ``vis_data/scalars.json`` (the
    step is the iteration, or the epoch for epoch-based runs)."""
    try:
        records = read_scalars(work_dir)
    except CurveError as error:
        raise RunError(str(error)) from error
    return [(record['step'], record[metric]) for record in records
            if metric in record]
