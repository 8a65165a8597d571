"""The method benchmark on the handwritten digits: settings chosen on val,
results reported on test (``tools/benchmark_methods.py``).

A task (:data:`TASKS`: ``seg``, PSPNets on DigitScapes; ``cls``,
classifiers on the digit patches) declares its runs in
:mod:`mmkd.benchmark.sweeps`. :func:`run_benchmark` builds the data if
missing, pretrains the backbones and trains the teacher once, then

1. **sweep** (seed 0, val): the student alone and every setting of every
   method; each method's best setting on val is chosen
   (:func:`choose`) and saved as data
   (``mmkd/benchmark/results/sweep_<task>.json``, what the demo reads),
   with a page;
2. **test** (every seed, test): the student alone, the student on a
   doubled schedule (convergence), and each method's default and chosen
   setting, with a page of mean, standard deviation and the paired
   difference from the student alone (:mod:`mmkd.benchmark.pages`).

Every run lives in ``<work_dirs>/<method>/<setting>/seed<N>`` and is
reused while its resolved settings, those of the runs it starts from and
its thread count are unchanged (:func:`mmkd.benchmark.runs.trained`).
"""
import json
import os.path as osp
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmkd.datasets import DIGIT_PATCHES_DATA, DIGITSCAPES_DATA
from .runs import (parse_test_log, test, threads_each, trained, val_curve,
                   write_missing)
from .sweeps import SWEEPS

__all__ = ['Task', 'TASKS', 'Run', 'Benchmark', 'choose', 'check_sweeps',
           'run_benchmark', 'RESULTS']

#: where the chosen settings are kept, as data: beside this module
RESULTS = osp.join(osp.dirname(osp.abspath(__file__)), 'results')


@dataclass(frozen=True)
class Task:
    name: str  # the key of the task's runs in SWEEPS
    library: str  # the OpenMMLab package whose version the report names
    configs: str  # where the task's configs are, e.g. 'mmkd::digitscapes'
    # (root, last folder written, writer), for runs.write_missing
    datasets: Tuple[Tuple[str, str, Callable[[str], str]], ...]
    metric: str  # the key the tools log
    metric_name: str
    split_options: Callable[[str], List[str]]  # test on another split
    work_dirs: str
    sweep_page: str  # page names, written into the pages folder
    results_page: str
    title: str

    @property
    def sweep_json(self) -> str:
        """The chosen settings' file name, in the results folder."""
        return osp.splitext(self.sweep_page)[0] + '.json'


def seg_split(split):
    prefix = 'test_dataloader.dataset.data_prefix'
    return [f'{prefix}.img_path=leftImg8bit/{split}',
            f'{prefix}.seg_map_path=gtFine/{split}']


def cls_split(split):
    return [f'test_dataloader.dataset.data_prefix={split}']


TASKS = {
    'seg': Task(
        name='seg', library='mmseg', configs='mmkd::digitscapes',
        datasets=(DIGITSCAPES_DATA, DIGIT_PATCHES_DATA),
        metric='mIoU', metric_name='DigitScapes mIoU (%)',
        split_options=seg_split, work_dirs='work_dirs/benchmark',
        sweep_page='sweep_digitscapes.md',
        results_page='results_digitscapes.md',
        title='Methods on DigitScapes'),
    'cls': Task(
        name='cls', library='mmpretrain', configs='mmkd::digits',
        datasets=(DIGIT_PATCHES_DATA, ),
        metric='accuracy/top1',
        metric_name='digit patches top-1 accuracy (%)',
        split_options=cls_split, work_dirs='work_dirs/benchmark_cls',
        sweep_page='sweep_digits_cls.md',
        results_page='results_digits_cls.md',
        title='Methods on the digit patches, classification'),
}


@dataclass(frozen=True)
class Run:
    method: str  # 'student' for the student alone
    setting: str
    config: str
    options: Tuple[str, ...]
    seed: int

    @property
    def label(self):
        return self.method if self.setting == 'default' else \
            f'{self.method} {self.setting}'


class Progress:
    """One line per finished run: run k of n, elapsed, estimated left
    (from the mean time of the runs trained so far, ``jobs`` at once)."""

    def __init__(self, total: int, jobs: int):
        self.total, self.jobs, self.done = total, jobs, 0
        self.start = time.perf_counter()
        self.trained_seconds = []
        self.lock = threading.Lock()

    def finished(self, run: Run, result: Dict, value: float, split: str):
        with self.lock:
            self.done += 1
            if not result['reused']:
                self.trained_seconds.append(result['train_seconds'])
            elapsed = time.perf_counter() - self.start
            left = 'unknown'
            if self.trained_seconds:
                per_run = sum(self.trained_seconds) / len(
                    self.trained_seconds)
                left = f'{(self.total - self.done) * per_run / self.jobs / 60:.0f} min'  # noqa: E501
            how = 'reused' if result['reused'] else \
                f'trained in {result["train_seconds"] / 60:.1f} min'
            print(f'[benchmark] run {self.done} of {self.total}: '
                  f'{run.label} seed {run.seed}, {split} {value:.2f} '
                  f'({how}); elapsed {elapsed / 60:.1f} min, about {left} '
                  'left', flush=True)


class Benchmark:
    """The runs of one task: data, pretraining and teacher first
    (:meth:`prepare`), then any list of :class:`Run` (:meth:`run_all`),
    each trained or reused, its val figures and curve read from its
    training log, its test figures when asked."""

    def __init__(self, task: Task, sweeps: dict, jobs: int):
        self.task, self.sweeps, self.jobs = task, sweeps, jobs
        self.threads = threads_each(jobs)
        self.upstream = ()  # digests of pretraining and teacher

    def config(self, name):
        return f'{self.task.configs}/{name}.py'

    def prepare(self):
        """Data, pretraining and teacher; returns the teacher's figures
        on train, val and test."""
        write_missing(self.task.datasets)
        with ThreadPoolExecutor(self.jobs) as pool:
            pretrained = list(pool.map(
                lambda name: trained(self.config(name),
                                     osp.join('work_dirs', osp.basename(name)),
                                     quiet=True, threads=self.threads),
                self.sweeps.get('pretrain', [])))
        self.upstream = tuple(run['settings'] for run in pretrained)
        teacher_name = self.sweeps['teacher']
        teacher_dir = osp.join('work_dirs', teacher_name)
        teacher = trained(self.config(teacher_name), teacher_dir,
                          upstream=self.upstream)
        self.upstream += (teacher['settings'], )
        figures = {
            split: test(self.config(teacher_name), teacher['checkpoint'],
                        osp.join(teacher_dir, f'test_{split}'),
                        self.task.metric, self.task.split_options(split))
            for split in ('train', 'val', 'test')}
        return dict(teacher, figures=figures)

    def run(self, run: Run, tested: bool) -> Dict:
        """Train (or reuse) ``run``; its val figure and curve from the
        training log, and its test figures when ``tested``."""
        work_dir = osp.join(self.task.work_dirs, run.method, run.setting,
                            f'seed{run.seed}')
        options = [*run.options, f'randomness.seed={run.seed}']
        result = trained(run.config, work_dir, options, self.upstream,
                         quiet=True, threads=self.threads)
        with open(osp.join(work_dir, 'train.log')) as file:
            result['val'] = parse_test_log(file.read(), result['checkpoint'],
                                           self.task.metric)
        result['curve'] = val_curve(work_dir, self.task.metric)
        result['work_dir'] = work_dir
        if tested:
            result['test'] = self.tested(run.config, result, work_dir)
        return result

    def tested(self, config: str, result: Dict, work_dir: str) -> Dict:
        """Test figures of ``result``'s checkpoint, kept in
        ``work_dir/test.json`` with the run's settings digest: read back
        only for the very run that wrote them, so that a run retrained in
        an older run's work dir is tested again."""
        path = osp.join(work_dir, 'test.json')
        if result['reused'] and osp.exists(path):
            with open(path) as file:
                saved = json.load(file)
            if saved.get('settings') == result['settings']:
                return saved['figures']
        figures = test(config, result['checkpoint'],
                       osp.join(work_dir, 'test'), self.task.metric,
                       threads=self.threads)
        with open(path, 'w') as file:
            json.dump(dict(settings=result['settings'], figures=figures),
                      file, indent=1)
        return figures

    def run_all(self, runs: List[Run], tested: bool) -> Dict[Run, Dict]:
        progress = Progress(len(runs), self.jobs)
        split = 'test' if tested else 'val'

        def one(run):
            result = self.run(run, tested)
            progress.finished(run, result, result[split][self.task.metric],
                              split)
            return result

        with ThreadPoolExecutor(self.jobs) as pool:
            return dict(zip(runs, pool.map(one, runs)))

    def sweep_runs(self, methods):
        runs = [Run('student', 'default', self.config(self.sweeps['student']),
                    (), 0)]
        for method in methods:
            spec = self.sweeps['methods'][method]
            runs += [Run(method, setting, self.config(spec['config']),
                         tuple(options), 0)
                     for setting, options in spec['settings'].items()]
        return runs

    def final_runs(self, chosen, seeds):
        student = self.config(self.sweeps['student'])
        rows = [('student', 'default', student, ()),
                ('student', 'double_schedule', student,
                 tuple(self.sweeps['double_schedule']))]
        for method, setting in chosen.items():
            spec = self.sweeps['methods'][method]
            for name in dict.fromkeys(['default', setting]):
                rows.append((method, name, self.config(spec['config']),
                             tuple(spec['settings'][name])))
        return [Run(*row, seed) for row in rows for seed in seeds]


def choose(sweep: Dict[Run, Dict], metric: str) -> Dict[str, str]:
    """method -> its setting with the highest val figure (the default
    where settings tie)."""
    best = {}
    for run, result in sweep.items():
        if run.method == 'student':
            continue
        value = result['val'][metric]
        if run.method not in best or value > best[run.method][1] or (
                value == best[run.method][1] and run.setting == 'default'):
            best[run.method] = (run.setting, value)
    return {method: setting for method, (setting, _) in best.items()}


def check_sweeps(sweeps: dict, task: str) -> None:
    """Raise ValueError unless every method of ``sweeps`` declares
    ``default`` first and at most 4 settings."""
    for method, spec in sweeps['methods'].items():
        settings = list(spec['settings'])
        if settings[:1] != ['default'] or len(settings) > 4:
            raise ValueError(f'sweeps: {task}.{method} needs \'default\' '
                             f'first and at most 4 settings, got {settings}')


def run_benchmark(task_name: str = 'seg', stage: str = 'all',
                  seeds: Sequence[int] = (0, 1, 2), jobs: int = 1,
                  methods: Optional[Sequence[str]] = None,
                  sweeps: Optional[dict] = None, pages: str = 'docs',
                  results: str = RESULTS, command: str = '') -> None:
    """The benchmark of ``task_name``: the sweep on val, then (``stage=
    'all'``) the test runs of ``methods`` (default: all) over ``seeds``
    (0 among them: the sweep's seed), ``jobs`` runs side by side. Pages go
    to the folder ``pages``, the chosen settings to ``results``;
    ``command`` is the command line the pages name."""
    from . import pages as page_writers
    task = TASKS[task_name]
    sweeps = (sweeps or SWEEPS)[task_name]
    check_sweeps(sweeps, task_name)
    if 0 not in seeds:
        raise ValueError('seeds must include 0, the seed of the sweep')
    unknown = set(methods or ()) - set(sweeps['methods'])
    if unknown:
        raise ValueError(f'methods {sorted(unknown)} are not methods of '
                         f'{task_name}: {sorted(sweeps["methods"])}')
    methods = list(methods or sweeps['methods'])
    start = time.perf_counter()
    benchmark = Benchmark(task, sweeps, jobs)
    teacher = benchmark.prepare()
    print(f'[benchmark] teacher {task.metric}: ' + ', '.join(
        f'{split} {figures[task.metric]:.2f}'
        for split, figures in teacher['figures'].items()), flush=True)
    sweep = benchmark.run_all(benchmark.sweep_runs(list(sweeps['methods'])),
                              tested=False)
    chosen = choose(sweep, task.metric)
    page_writers.sweep_page(task, sweep, chosen, teacher, list(seeds),
                            pages, results, command)
    if stage == 'all':
        final = benchmark.run_all(benchmark.final_runs(
            {m: chosen[m] for m in methods}, list(seeds)), tested=True)
        page_writers.results_page(task, final, chosen, teacher, list(seeds),
                                  time.perf_counter() - start, pages,
                                  command)
    print(f'\n[benchmark] done in {(time.perf_counter() - start) / 60:.1f} '
          'min', flush=True)
