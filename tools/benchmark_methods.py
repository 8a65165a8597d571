"""Compare the distillation methods on the handwritten digits: the student
alone and each method, over several seeds, with the same teacher.

    python tools/benchmark_methods.py [--task seg|cls] [--seeds 0 1 2]
        [--methods ...] [--variant NAME METHOD 'key=value ...']
        [--out docs/results_digitscapes.md]

``--task seg`` (default): PSPNets on DigitScapes, mIoU. ``--task cls``:
ResNets on the 32x32 digits, top-1 accuracy. Builds the dataset if missing,
trains the task's teacher once (or reuses it from work_dirs), then trains
and tests every method with every seed (``randomness.seed``) into
work_dirs/benchmark[_cls]/<name>/seed<N>, reusing runs that finished
earlier with the same settings. ``--variant`` adds a method with changed
settings, e.g. ``--variant bdd_rw0.5 bdd
model.distill_losses.loss_bdd.reverse_weight=0.5``. Writes a Markdown
report (mean and sample standard deviation of the metric, every run, the
commands, versions and wall times) and a bar chart with error bars beside
it.
"""
import argparse
import datetime
import hashlib
import json
import os.path as osp
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import mmengine  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from mmkd.datasets import write_digit_folders, write_digitscapes  # noqa: E402
from mmkd.runs import ROOT, mean_and_std, test, train  # noqa: E402
from mmkd.version import __version__  # noqa: E402


@dataclass(frozen=True)
class Task:
    library: str  # the OpenMMLab package whose version the report names
    configs: str
    teacher: str  # config name; trained once into work_dirs/<teacher>
    methods: Dict[str, str]  # method -> config name
    data_root: str
    data_written: str  # a folder under data_root once it is written
    write_data: Callable[[str], str]
    metric: str  # the key tools/test.py logs
    metric_label: str
    work_dirs: str
    out: str
    title: str


TASKS = {
    'seg': Task(
        library='mmseg',
        configs='configs/digitscapes',
        teacher='pspnet_r50_digitscapes',
        methods={
            'baseline': 'pspnet_r18_digitscapes',
            'kd': 'pspnet_r50_to_r18_digitscapes_kd',
            'cwd': 'pspnet_r50_to_r18_digitscapes_cwd',
            'dist': 'pspnet_r50_to_r18_digitscapes_dist',
            'bdd': 'pspnet_r50_to_r18_digitscapes_bdd',
            'pcd': 'pspnet_r50_to_r18_digitscapes_pcd',
        },
        data_root='data/digitscapes',
        data_written='leftImg8bit/val',
        write_data=write_digitscapes,
        metric='mIoU',
        metric_label='DigitScapes val mIoU (%)',
        work_dirs='work_dirs/benchmark',
        out='docs/results_digitscapes.md',
        title='Methods on DigitScapes'),
    # CWD is left out: it distils spatial maps, and classifier logits have
    # no spatial dimension.
    'cls': Task(
        library='mmpretrain',
        configs='configs/digits',
        teacher='resnet50_digits',
        methods={
            'baseline': 'resnet18_digits',
            'kd': 'resnet50_to_resnet18_digits_kd',
            'dist': 'resnet50_to_resnet18_digits_dist',
            'bdd': 'resnet50_to_resnet18_digits_bdd',
            'pcd': 'resnet50_to_resnet18_digits_pcd',
        },
        data_root='data/digits',
        data_written='val/9',
        write_data=write_digit_folders,
        metric='accuracy/top1',
        metric_label='digits val top-1 accuracy (%)',
        work_dirs='work_dirs/benchmark_cls',
        out='docs/results_digits_cls.md',
        title='Methods on the handwritten digits, classification'),
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', choices=list(TASKS), default='seg')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--methods', nargs='+',
                        help='of the task\'s methods (default: all)')
    parser.add_argument(
        '--variant', nargs=3, action='append', default=[],
        metavar=('NAME', 'METHOD', 'OPTIONS'),
        help='another run: METHOD with --cfg-options OPTIONS')
    parser.add_argument('--out', help='default: the task\'s report in docs/')
    parser.add_argument('--title')
    args = parser.parse_args()
    task = TASKS[args.task]
    unknown = set(args.methods or ()) - set(task.methods)
    if unknown:
        parser.error(f'--methods: {sorted(unknown)} not methods of --task '
                     f'{args.task}: {sorted(task.methods)}')
    args.methods = args.methods or list(task.methods)
    args.out = args.out or task.out
    args.title = args.title or task.title
    return args, task


def runs_to_do(args, task):
    """name -> (config, cfg options)."""
    todo = {m: (osp.join(task.configs, f'{task.methods[m]}.py'), [])
            for m in args.methods}
    for name, method, options in args.variant:
        if method not in task.methods:
            sys.exit(f'--variant {name}: unknown method {method!r}, one of '
                     f'{sorted(task.methods)}')
        todo[name] = (osp.join(task.configs, f'{task.methods[method]}.py'),
                      shlex.split(options))
    return todo


def settings_digest(config, options):
    """What a run trains, resolved: the config with its options merged."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    parsed = {}
    for option in options:
        key, value = option.split('=', 1)
        parsed[key] = DictAction._parse_iterable(value)
    cfg.merge_from_dict(parsed)
    return hashlib.sha256(cfg.pretty_text.encode()).hexdigest()[:16]


def run_once(task, name, config, options, seed):
    """Train and test one run, or read back the result of an earlier run of
    the same settings."""
    work_dir = osp.join(task.work_dirs, name, f'seed{seed}')
    result_file = osp.join(ROOT, work_dir, 'result.json')
    options = [*options, f'randomness.seed={seed}']
    digest = settings_digest(config, options)
    if osp.exists(result_file):
        with open(result_file) as file:
            result = json.load(file)
        if result.get('settings') == digest:
            print(f'reusing {work_dir}: {task.metric} '
                  f'{result[task.metric]:.2f}')
            return result
        print(f'{work_dir} was trained with other settings: training again')
    checkpoint, seconds = train(config, work_dir, options)
    figures = test(config, checkpoint, osp.join(work_dir, 'test'),
                   task.metric)
    result = {task.metric: figures[task.metric],
              'per_class': figures['per_class'],
              'train_seconds': seconds, 'settings': digest,
              'command': ' '.join(['python tools/train.py', config,
                                   '--work-dir', work_dir,
                                   '--cfg-options', *options])}
    with open(result_file, 'w') as file:
        json.dump(result, file, indent=1)
    print(f'{name} seed {seed}: {task.metric} {result[task.metric]:.2f} '
          f'({seconds / 60:.1f} min)')
    return result


def chart(task, summary, teacher_value, path):
    names = list(summary)
    means = [summary[n]['mean'] for n in names]
    stds = [summary[n]['std'] for n in names]
    figure, axes = plt.subplots(figsize=(1.2 * len(names) + 2, 4))
    axes.bar(names, means, yerr=stds, capsize=4, color='tab:blue')
    axes.axhline(teacher_value, color='tab:red', linestyle='--',
                 label=f'teacher {teacher_value:.1f}')
    low = min(m - s for m, s in zip(means, stds))
    high = max(teacher_value, max(m + s for m, s in zip(means, stds)))
    axes.set_ylim(max(0, low - 5), min(100, high + 3))
    axes.set_ylabel(f'{task.metric} (%), mean and std over seeds')
    axes.set_title(task.metric_label)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def report(args, task, todo, results, teacher, seconds):
    metric = task.metric
    summary = {}
    for name in todo:
        mean, std = mean_and_std([r[metric] for r in results[name]])
        summary[name] = dict(mean=mean, std=std)
    image = osp.splitext(args.out)[0] + '.png'
    chart(task, summary, teacher[metric], osp.join(ROOT, image))
    baseline = summary.get('baseline', {}).get('mean')
    library = __import__(task.library)
    lines = [
        f'# {args.title}', '',
        f'Written by `tools/benchmark_methods.py` on '
        f'{datetime.date.today()}: '
        f'`python {" ".join(shlex.quote(a) for a in sys.argv)}`', '',
        f'{task.metric_label}, seeds {args.seeds}. Teacher '
        f'({task.configs}/{task.teacher}.py, trained once): '
        f'{teacher[metric]:.2f}.', '',
        f'| run | config options | {metric} mean | std | vs. baseline | '
        'per seed |',
        '|---|---|---|---|---|---|',
    ]
    for name, (config, options) in todo.items():
        mean, std = summary[name]['mean'], summary[name]['std']
        delta = '' if baseline is None or name == 'baseline' else \
            f'{mean - baseline:+.2f}'
        seeds = ', '.join(f'{r[metric]:.2f}' for r in results[name])
        lines.append(f'| {name} (`{osp.basename(config)}`) | '
                     f'{" ".join(options) or "-"} | {mean:.2f} | {std:.2f} | '
                     f'{delta} | {seeds} |')
    lines += [
        '', f'![{metric} per run, mean and standard deviation over seeds]'
        f'({osp.basename(image)})', '',
        '## Commands', '',
        '```bash',
        f'python tools/make_digitscapes.py {task.data_root}' + (
            ' --task cls' if task is TASKS['cls'] else ''),
        f'python tools/train.py {task.configs}/{task.teacher}.py',
    ] + [r['command'] for name in todo for r in results[name]] + [
        '```', '',
        'Each run was then tested with `python tools/test.py CONFIG '
        'CHECKPOINT`.', '',
        '## Setting', '',
        f'- torch {torch.__version__}, mmengine {mmengine.__version__}, '
        f'{task.library} {library.__version__}, mmkd {__version__}, Python '
        f'{platform.python_version()}',
        f'- {torch.get_num_threads()} CPU threads, no GPU',
        '- training wall time per run (minutes): ' + ', '.join(
            f'{name} {mean_and_std([r["train_seconds"] for r in results[name]])[0] / 60:.1f}'  # noqa: E501
            for name in todo),
        f'- whole benchmark: {seconds / 60:.0f} min (runs reused from '
        'earlier invocations count as zero)',
    ]
    with open(osp.join(ROOT, args.out), 'w') as file:
        file.write('\n'.join(lines) + '\n')
    print('\n'.join(lines[:8 + len(todo)]))
    print(f'\nwrote {args.out} and {image}')


def trained_teacher(task):
    """The teacher's checkpoint, trained now unless an earlier run left
    one in work_dirs/<teacher>."""
    teacher_dir = osp.join('work_dirs', task.teacher)
    last = osp.join(ROOT, teacher_dir, 'last_checkpoint')
    if osp.exists(last):
        with open(last) as file:
            checkpoint = file.read().strip()
        if osp.exists(checkpoint):
            return checkpoint
    checkpoint, _ = train(osp.join(task.configs, f'{task.teacher}.py'),
                          teacher_dir)
    return checkpoint


def main():
    args, task = parse_args()
    todo = runs_to_do(args, task)
    start = time.perf_counter()
    if not osp.isdir(osp.join(ROOT, task.data_root, task.data_written)):
        task.write_data(osp.join(ROOT, task.data_root))
    teacher = test(osp.join(task.configs, f'{task.teacher}.py'),
                   trained_teacher(task),
                   osp.join('work_dirs', task.teacher, 'test'), task.metric)
    results = {name: [run_once(task, name, config, options, seed)
                      for seed in args.seeds]
               for name, (config, options) in todo.items()}
    report(args, task, todo, results, teacher, time.perf_counter() - start)


if __name__ == '__main__':
    main()
