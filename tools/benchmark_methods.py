"""Compare the distillation methods on the handwritten digits: settings
chosen on val, results reported on test.

    python tools/benchmark_methods.py [--task seg|cls] [--stage sweep|all]
        [--seeds 0 1 2] [--jobs 2] [--methods kd bdd ...] [--sweeps FILE]

The runs are declared in configs/benchmark_sweeps.py. ``--task seg``
(default): PSPNets on DigitScapes, mIoU; ``--task cls``: classifiers on
the digit patches, top-1 accuracy. The tool builds the data if missing,
pretrains the backbones and trains the teacher once, then

1. **sweep** (seed 0, val): the student alone and every setting of every
   method; each method's best setting on val is chosen; writes
   docs/sweep_<task>.md and its .json (what tools/demo.py reads);
2. **test** (``--stage all``, every seed, test): the student alone, the
   student on a doubled schedule (convergence), and each method's default
   and chosen setting; writes docs/results_<task>.md with mean, standard
   deviation and the paired difference from the student alone with its
   95 % t-interval over seeds, a bar chart, and the convergence figure.
   ``--methods`` limits this stage to some methods; the sweep covers all.

Every run lives in work_dirs/benchmark[_cls]/<method>/<setting>/seed<N> and
is reused by later invocations while its resolved settings (and those of
the teacher and pretraining it starts from) and its thread count are
unchanged (``--jobs`` sets the count; a demo trains the shared teacher and
pretraining on other counts, and is not reused here). One progress
line per run: run k of n, elapsed time, estimated time left. ``--jobs 2``
trains two runs side by side, one CPU thread each (about 1.4x the
throughput of one run on two threads on a 2-core machine).
"""
import argparse
import datetime
import json
import os
import os.path as osp
import platform
import shlex
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import mmengine  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402

from mmkd.curves import plot_curves, read_scalars  # noqa: E402
from mmkd.datasets import DIGIT_PATCHES_DATA, DIGITSCAPES_DATA  # noqa: E402
from mmkd.runs import (ROOT, mean_and_std, paired_interval, parse_test_log,  # noqa: E402,E501
                       test, threads_each, trained, val_curve,
                       write_missing)
from mmkd.version import __version__  # noqa: E402

SWEEPS = 'configs/benchmark_sweeps.py'


@dataclass(frozen=True)
class Task:
    name: str  # the key of the task's runs in SWEEPS
    library: str  # the OpenMMLab package whose version the report names
    configs: str
    # (root, last folder written, writer), for mmkd.runs.write_missing
    datasets: Tuple[Tuple[str, str, Callable[[str], str]], ...]
    metric: str  # the key the tools log
    metric_name: str
    split_options: Callable[[str], List[str]]  # test on another split
    work_dirs: str
    sweep_page: str
    results_page: str
    title: str


def seg_split(split):
    prefix = 'test_dataloader.dataset.data_prefix'
    return [f'{prefix}.img_path=leftImg8bit/{split}',
            f'{prefix}.seg_map_path=gtFine/{split}']


def cls_split(split):
    return [f'test_dataloader.dataset.data_prefix={split}']


TASKS = {
    'seg': Task(
        name='seg', library='mmseg', configs='configs/digitscapes',
        datasets=(DIGITSCAPES_DATA, DIGIT_PATCHES_DATA),
        metric='mIoU', metric_name='DigitScapes mIoU (%)',
        split_options=seg_split, work_dirs='work_dirs/benchmark',
        sweep_page='docs/sweep_digitscapes.md',
        results_page='docs/results_digitscapes.md',
        title='Methods on DigitScapes'),
    'cls': Task(
        name='cls', library='mmpretrain', configs='configs/digits',
        datasets=(DIGIT_PATCHES_DATA, ),
        metric='accuracy/top1',
        metric_name='digit patches top-1 accuracy (%)',
        split_options=cls_split, work_dirs='work_dirs/benchmark_cls',
        sweep_page='docs/sweep_digits_cls.md',
        results_page='docs/results_digits_cls.md',
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
    def __init__(self, task: Task, sweeps: dict, jobs: int):
        self.task, self.sweeps, self.jobs = task, sweeps, jobs
        self.threads = threads_each(jobs)
        self.upstream = ()  # digests of pretraining and teacher

    def config(self, name):
        return osp.join(self.task.configs, f'{name}.py')

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
        with open(osp.join(ROOT, work_dir, 'train.log')) as file:
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
        path = osp.join(ROOT, work_dir, 'test.json')
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


def command_line():
    return 'python ' + ' '.join(shlex.quote(a) for a in sys.argv)


def setting_text(run):
    return ' '.join(o.replace('model.distill_losses.', '')
                    for o in run.options) or '-'


READING = ('<!-- reading: written by hand, kept when the tool rewrites '
           'the page -->', '<!-- /reading -->')


def kept_reading(path):
    """The hand-written reading of the page at ``path`` (between the
    ``READING`` markers, markers included) as lines, or none."""
    if not osp.exists(path):
        return []
    with open(path) as file:
        text = file.read()
    start, end = text.find(READING[0]), text.find(READING[1])
    if start < 0 or end < start:
        return []
    return text[start:end + len(READING[1])].splitlines() + ['']


def sweep_page(task, sweep, chosen, teacher, seeds, path):
    """``seeds``: those the test stage trains (``--seeds``)."""
    metric = task.metric
    student = next(r for r in sweep if r.method == 'student')
    baseline = sweep[student]['val'][metric]
    lines = [
        f'# {task.title}: the sweep (val, seed 0)', '',
        f'Written by `tools/benchmark_methods.py` on '
        f'{datetime.date.today()}: `{command_line()}`', '',
        f'{task.metric_name} on **val**, seed 0: the settings of '
        f'[{SWEEPS}](../{SWEEPS}) (option paths shortened from '
        '`model.distill_losses.`). The chosen setting of each method '
        '(**bold**) is its best here; it and the default go on to seeds '
        f'{", ".join(map(str, seeds))} on test: '
        f'[{osp.basename(task.results_page)}]'
        f'({osp.basename(task.results_page)}). Teacher on val: '
        f'{teacher["figures"]["val"][metric]:.2f}; student alone: '
        f'{baseline:.2f}.', '',
    ] + kept_reading(osp.join(ROOT, path)) + [
        f'| method | setting | options | val {metric} | vs. student alone |',
        '|---|---|---|---|---|',
    ]
    for run, result in sweep.items():
        value = result['val'][metric]
        name = f'**{run.setting}**' if chosen.get(run.method) == \
            run.setting else run.setting
        delta = '' if run.method == 'student' else f'{value - baseline:+.2f}'
        lines.append(f'| {run.method} | {name} | {setting_text(run)} | '
                     f'{value:.2f} | {delta} |')
    lines += ['', '## Commands', '', '```bash'] + [
        r['command'] for r in sweep.values()] + ['```']
    with open(osp.join(ROOT, path), 'w') as file:
        file.write('\n'.join(lines) + '\n')
    with open(osp.join(ROOT, osp.splitext(path)[0] + '.json'), 'w') as file:
        json.dump({'metric': metric, 'split': 'val', 'seed': 0,
                   'chosen': {m: {'setting': s, 'options': list(next(
                       r.options for r in sweep
                       if r.method == m and r.setting == s))}
                       for m, s in chosen.items()},
                   'val': {f'{r.method}/{r.setting}': v['val'][metric]
                           for r, v in sweep.items()}}, file, indent=1)
    print('\n'.join(lines[:6 + len(sweep)]), flush=True)


def rows_of(final):
    """(method, setting) -> its runs' results in seed order."""
    rows = {}
    for run, result in final.items():
        rows.setdefault((run.method, run.setting), []).append((run, result))
    return rows


def charts(task, rows, baseline, teacher_test, path):
    metric = task.metric
    names = [f'{m}\n{s}' if s != 'default' else m for m, s in rows]
    means, stds, deltas, lows, highs = [], [], [], [], []
    for runs in rows.values():
        values = [r['test'][metric] for _, r in runs]
        mean, std = mean_and_std(values)
        delta, low, high = paired_interval(values, baseline)
        means.append(mean)
        stds.append(std)
        deltas.append(delta)
        lows.append(delta - low)
        highs.append(high - delta)
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(2 * (0.9 * len(names) + 2), 4.5))
    left.bar(range(len(names)), means, yerr=stds, capsize=3,
             color='tab:blue')
    left.axhline(teacher_test, color='tab:red', linestyle='--',
                 label=f'teacher {teacher_test:.1f}')
    low = min(m - s for m, s in zip(means, stds))
    left.set_ylim(max(0, low - 3), min(100, max(teacher_test, *means) + 2))
    left.set_ylabel(f'test {metric} (%), mean and std over seeds')
    left.legend(loc='lower right')
    right.bar(range(len(names)), deltas, yerr=[lows, highs], capsize=3,
              color=['tab:green' if d > 0 else 'tab:gray' for d in deltas])
    right.axhline(0, color='black', linewidth=0.8)
    right.set_ylabel(f'{metric} minus student alone, same seed\n'
                     '(mean and 95 % t-interval)')
    for axes in (left, right):
        axes.set_xticks(range(len(names)), names, fontsize=7, rotation=45,
                        ha='right')
    figure.suptitle(f'{task.title}, test split')
    figure.tight_layout()
    figure.savefig(osp.join(ROOT, path), dpi=100)
    plt.close(figure)


def convergence_chart(task, rows, path):
    """Val curves of the student alone on its schedule and on the doubled
    one, mean over seeds, with the test figures at the end."""
    figure, axes = plt.subplots(figsize=(7, 4))
    for setting, colour in (('default', 'tab:blue'),
                            ('double_schedule', 'tab:orange')):
        runs = rows[('student', setting)]
        curves = [r['curve'] for _, r in runs]
        steps = [step for step, _ in curves[0]]
        mean = [sum(c[i][1] for c in curves) / len(curves)
                for i in range(len(steps))]
        label = 'schedule' if setting == 'default' else 'doubled schedule'
        axes.plot(steps, mean, marker='o', color=colour,
                  label=f'student alone, {label}: val (mean of {len(runs)})')
        test_mean = mean_and_std([r['test'][task.metric]
                                  for _, r in runs])[0]
        axes.scatter([steps[-1]], [test_mean], marker='*', s=150,
                     color=colour, label=f'{label}: test {test_mean:.2f}')
    axes.set_xlabel('iteration' if task.name == 'seg' else 'epoch')
    axes.set_ylabel(f'{task.metric} (%)')
    # two lines: the classification title overran the figure on one
    axes.set_title(f'{task.title}:\nconvergence of the student alone')
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(osp.join(ROOT, path), dpi=100)
    plt.close(figure)


def results_page(task, final, chosen, teacher, seeds, seconds, path):
    metric = task.metric
    rows = rows_of(final)
    baseline = [r['test'][metric] for _, r in rows[('student', 'default')]]
    stem = osp.splitext(path)[0]
    charts(task, rows, baseline, teacher['figures']['test'][metric],
           stem + '.png')
    convergence_chart(task, rows, stem + '_convergence.png')
    # the first seed's training curves: the student alone and each method
    # at its chosen setting
    curve_runs = {
        f'{method} {setting}': read_scalars(osp.join(ROOT, r['work_dir']))
        for (method, setting), runs in rows.items()
        if (method, setting) == ('student', 'default') or
        chosen.get(method) == setting
        for run, r in runs[:1] if 'work_dir' in r}
    if curve_runs:
        plot_curves(curve_runs, osp.join(ROOT, stem + '_curves.png'),
                    f'{task.title}: seed {seeds[0]}')
    base_mean = mean_and_std(baseline)[0]
    double = mean_and_std([r['test'][metric] for _, r in
                           rows[('student', 'double_schedule')]])[0]
    figures = teacher['figures']
    library = __import__(task.library)
    lines = [
        f'# {task.title}', '',
        f'Written by `tools/benchmark_methods.py` on '
        f'{datetime.date.today()}: `{command_line()}`', '',
        f'{task.metric_name} on **test**, seeds {seeds}: a split on which '
        'no setting was chosen. Each method at its default (published) '
        'setting and at the setting it scored best with on val '
        f'([{osp.basename(task.sweep_page)}]'
        f'({osp.basename(task.sweep_page)}), seed 0). "vs. student alone" is '
        'the mean over seeds of the method minus the student alone trained '
        'with the same seed, with its 95 % t-interval over seeds.', '',
    ] + kept_reading(osp.join(ROOT, path)) + [
        f'Teacher (`{task.configs}/{teacher["command"].split()[2].split("/")[-1]}`, '  # noqa: E501
        f'one run): test {figures["test"][metric]:.2f}, val '
        f'{figures["val"][metric]:.2f}, train {figures["train"][metric]:.2f} '
        f'(train minus val: {figures["train"][metric] - figures["val"][metric]:+.2f}). '  # noqa: E501
        f'Student alone: test {base_mean:.2f}, '
        f'{figures["test"][metric] - base_mean:.2f} below the teacher; on '
        f'the doubled schedule {double:.2f} ({double - base_mean:+.2f}).', '',
        f'| method | setting | options | test {metric} mean ± std | '
        'vs. student alone [95 % interval] | per seed | val mean ± std, '
        'vs. student alone |',
        '|---|---|---|---|---|---|---|',
    ]
    base_val = [r['val'][metric] for _, r in rows[('student', 'default')]]
    for (method, setting), runs in rows.items():
        values = [r['test'][metric] for _, r in runs]
        mean, std = mean_and_std(values)
        val_values = [r['val'][metric] for _, r in runs]
        val_mean, val_std = mean_and_std(val_values)
        delta = val_delta = ''
        if (method, setting) != ('student', 'default'):
            diff, low, high = paired_interval(values, baseline)
            delta = f'{diff:+.2f} [{low:+.2f}, {high:+.2f}]'
            val_delta = f', {paired_interval(val_values, base_val)[0]:+.2f}'
        mark = ' (chosen on val)' if chosen.get(method) == setting else ''
        lines.append(
            f'| {method} | {setting}{mark} | {setting_text(runs[0][0])} | '
            f'{mean:.2f} ± {std:.2f} | {delta} | '
            f'{", ".join(f"{v:.2f}" for v in values)} | '
            f'{val_mean:.2f} ± {val_std:.2f}{val_delta} |')
    lines += [
        '', f'![test {metric}: mean and std over seeds; paired difference '
        f'from the student alone]({osp.basename(stem)}.png)', '',
        f'![convergence of the student alone]({osp.basename(stem)}'
        '_convergence.png)', '',
    ] + ([
        f'![training curves, seed {seeds[0]}: the student alone and each '
        f'method at its chosen setting]({osp.basename(stem)}_curves.png)',
        '',
    ] if curve_runs else []) + [
        '## Commands', '', '```bash',
        'python tools/make_digitscapes.py ...  # the data, see README',
        teacher['command'],
    ] + [r['command'] for r in final.values()] + [
        '```', '',
        'Each run was then tested with `python tools/test.py CONFIG '
        'CHECKPOINT` (the test split).', '',
        '## Setting', '',
        f'- torch {torch.__version__}, mmengine {mmengine.__version__}, '
        f'{task.library} {library.__version__}, mmkd {__version__}, Python '
        f'{platform.python_version()}; {os.cpu_count()} CPU cores, no GPU',
        '- training wall time per run (minutes, mean over seeds): ' +
        ', '.join(
            f'{m} {s} {mean_and_std([r["train_seconds"] for _, r in runs])[0] / 60:.1f}'  # noqa: E501
            for (m, s), runs in rows.items()),
        f'- this invocation: {seconds / 60:.0f} min (runs reused from '
        'earlier invocations count as zero)',
    ]
    with open(osp.join(ROOT, path), 'w') as file:
        file.write('\n'.join(lines) + '\n')
    print('\n'.join(lines[:10 + len(rows)]), flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', choices=list(TASKS), default='seg')
    parser.add_argument('--stage', choices=['sweep', 'all'], default='all',
                        help='sweep: the val sweep only; all: the sweep, '
                        'then the test runs (default)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='seeds of the test runs (the sweep uses 0)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs trained side by side (default 1)')
    parser.add_argument('--methods', nargs='+',
                        help='test only these of the methods (default: all); '
                        'the sweep always covers all')
    parser.add_argument('--sweeps', default=SWEEPS,
                        help=f'the runs to compare (default {SWEEPS})')
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f'--jobs must be at least 1, got {args.jobs}')
    if 0 not in args.seeds:
        parser.error('--seeds must include 0, the seed of the sweep')
    sweeps = Config.fromfile(osp.join(ROOT, args.sweeps))[args.task]
    unknown = set(args.methods or ()) - set(sweeps['methods'])
    if unknown:
        parser.error(f'--methods: {sorted(unknown)} not methods of --task '
                     f'{args.task}: {sorted(sweeps["methods"])}')
    for method, spec in sweeps['methods'].items():
        settings = list(spec['settings'])
        if settings[:1] != ['default'] or len(settings) > 4:
            parser.error(f'{args.sweeps}: {args.task}.{method} needs '
                         "'default' first and at most 4 settings, got "
                         f'{settings}')
    args.methods = args.methods or list(sweeps['methods'])
    return args, TASKS[args.task], sweeps


def main():
    args, task, sweeps = parse_args()
    start = time.perf_counter()
    benchmark = Benchmark(task, sweeps, args.jobs)
    teacher = benchmark.prepare()
    print(f'[benchmark] teacher {task.metric}: ' + ', '.join(
        f'{split} {figures[task.metric]:.2f}'
        for split, figures in teacher['figures'].items()), flush=True)
    sweep = benchmark.run_all(benchmark.sweep_runs(list(sweeps['methods'])),
                              tested=False)
    chosen = choose(sweep, task.metric)
    sweep_page(task, sweep, chosen, teacher, args.seeds, task.sweep_page)
    if args.stage == 'all':
        final = benchmark.run_all(benchmark.final_runs(
            {m: chosen[m] for m in args.methods}, args.seeds), tested=True)
        results_page(task, final, chosen, teacher, args.seeds,
                     time.perf_counter() - start, task.results_page)
    print(f'\n[benchmark] done in {(time.perf_counter() - start) / 60:.1f} '
          'min', flush=True)


if __name__ == '__main__':
    main()
