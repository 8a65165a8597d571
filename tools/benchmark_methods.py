"""Compare the distillation methods on DigitScapes: the student alone and
each method, over several seeds, with the same teacher.

    python tools/benchmark_methods.py [--seeds 0 1 2] [--methods ...]
        [--variant NAME METHOD 'key=value ...']
        [--out docs/results_digitscapes.md]

Builds DigitScapes if missing, trains the teacher once (or reuses
work_dirs/pspnet_r50_digitscapes), then trains and tests every method with
every seed (``randomness.seed``) into work_dirs/benchmark/<name>/seed<N>,
reusing runs that finished earlier. ``--variant`` adds a method with
changed settings, e.g. ``--variant bdd_rw0.5 bdd
model.distill_losses.loss_bdd.reverse_weight=0.5``. Writes a Markdown
report (mean and sample standard deviation of mIoU, every run, the commands,
versions and wall times) and a bar chart with error bars beside it.
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

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import mmengine  # noqa: E402
import mmseg  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from mmkd.datasets import write_digitscapes  # noqa: E402
from mmkd.runs import ROOT, mean_and_std, test, train  # noqa: E402
from mmkd.version import __version__  # noqa: E402

CONFIGS = 'configs/digitscapes'
TEACHER = 'pspnet_r50_digitscapes'
METHODS = {
    'baseline': 'pspnet_r18_digitscapes',
    'kd': 'pspnet_r50_to_r18_digitscapes_kd',
    'cwd': 'pspnet_r50_to_r18_digitscapes_cwd',
    'dist': 'pspnet_r50_to_r18_digitscapes_dist',
    'bdd': 'pspnet_r50_to_r18_digitscapes_bdd',
    'pcd': 'pspnet_r50_to_r18_digitscapes_pcd',
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--methods', nargs='+', default=list(METHODS),
                        choices=list(METHODS))
    parser.add_argument(
        '--variant', nargs=3, action='append', default=[],
        metavar=('NAME', 'METHOD', 'OPTIONS'),
        help='another run: METHOD with --cfg-options OPTIONS')
    parser.add_argument('--out', default='docs/results_digitscapes.md')
    parser.add_argument('--title', default='Methods on DigitScapes')
    return parser.parse_args()


def runs_to_do(args):
    """name -> (config, cfg options)."""
    todo = {m: (osp.join(CONFIGS, f'{METHODS[m]}.py'), [])
            for m in args.methods}
    for name, method, options in args.variant:
        if method not in METHODS:
            sys.exit(f'--variant {name}: unknown method {method!r}, one of '
                     f'{sorted(METHODS)}')
        todo[name] = (osp.join(CONFIGS, f'{METHODS[method]}.py'),
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


def run_once(name, config, options, seed):
    """Train and test one run, or read back the result of an earlier run of
    the same settings."""
    work_dir = osp.join('work_dirs', 'benchmark', name, f'seed{seed}')
    result_file = osp.join(ROOT, work_dir, 'result.json')
    options = [*options, f'randomness.seed={seed}']
    digest = settings_digest(config, options)
    if osp.exists(result_file):
        with open(result_file) as file:
            result = json.load(file)
        if result.get('settings') == digest:
            print(f'reusing {work_dir}: mIoU {result["mIoU"]:.2f}')
            return result
        print(f'{work_dir} was trained with other settings: training again')
    checkpoint, seconds = train(config, work_dir, options)
    figures = test(config, checkpoint, osp.join(work_dir, 'test'))
    result = dict(mIoU=figures['mIoU'], per_class=figures['per_class'],
                  train_seconds=seconds, settings=digest,
                  command=' '.join(['python tools/train.py', config,
                                    '--work-dir', work_dir,
                                    '--cfg-options', *options]))
    with open(result_file, 'w') as file:
        json.dump(result, file, indent=1)
    print(f'{name} seed {seed}: mIoU {result["mIoU"]:.2f} '
          f'({seconds / 60:.1f} min)')
    return result


def chart(summary, teacher_miou, path):
    names = list(summary)
    means = [summary[n]['mean'] for n in names]
    stds = [summary[n]['std'] for n in names]
    figure, axes = plt.subplots(figsize=(1.2 * len(names) + 2, 4))
    axes.bar(names, means, yerr=stds, capsize=4, color='tab:blue')
    axes.axhline(teacher_miou, color='tab:red', linestyle='--',
                 label=f'teacher {teacher_miou:.1f}')
    low = min(m - s for m, s in zip(means, stds))
    axes.set_ylim(max(0, low - 5), max(teacher_miou, max(means)) + 3)
    axes.set_ylabel('mIoU (%), mean and std over seeds')
    axes.set_title('DigitScapes val')
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def report(args, todo, results, teacher, seconds):
    summary = {}
    for name in todo:
        mean, std = mean_and_std([r['mIoU'] for r in results[name]])
        summary[name] = dict(mean=mean, std=std)
    image = osp.splitext(args.out)[0] + '.png'
    chart(summary, teacher['mIoU'], osp.join(ROOT, image))
    baseline = summary.get('baseline', {}).get('mean')
    lines = [
        f'# {args.title}', '',
        f'Written by `tools/benchmark_methods.py` on '
        f'{datetime.date.today()}: '
        f'`python {" ".join(shlex.quote(a) for a in sys.argv)}`', '',
        f'DigitScapes val mIoU (%), seeds {args.seeds}. Teacher '
        f'(configs/digitscapes/{TEACHER}.py, trained once): '
        f'{teacher["mIoU"]:.2f}.', '',
        '| run | config options | mIoU mean | std | vs. baseline | '
        'per seed |',
        '|---|---|---|---|---|---|',
    ]
    for name, (config, options) in todo.items():
        mean, std = summary[name]['mean'], summary[name]['std']
        delta = '' if baseline is None or name == 'baseline' else \
            f'{mean - baseline:+.2f}'
        seeds = ', '.join(f'{r["mIoU"]:.2f}' for r in results[name])
        lines.append(f'| {name} (`{osp.basename(config)}`) | '
                     f'{" ".join(options) or "-"} | {mean:.2f} | {std:.2f} | '
                     f'{delta} | {seeds} |')
    lines += [
        '', f'![mIoU per run, mean and standard deviation over seeds]'
        f'({osp.basename(image)})', '',
        '## Commands', '',
        '```bash',
        'python tools/make_digitscapes.py data/digitscapes',
        f'python tools/train.py {CONFIGS}/{TEACHER}.py',
    ] + [r['command'] for name in todo for r in results[name]] + [
        '```', '',
        'Each run was then tested with `python tools/test.py CONFIG '
        'CHECKPOINT`.', '',
        '## Setting', '',
        f'- torch {torch.__version__}, mmengine {mmengine.__version__}, '
        f'mmsegmentation {mmseg.__version__}, mmkd {__version__}, Python '
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


def main():
    args = parse_args()
    todo = runs_to_do(args)
    start = time.perf_counter()
    if not osp.isdir(osp.join(ROOT, 'data/digitscapes/leftImg8bit')):
        write_digitscapes(osp.join(ROOT, 'data/digitscapes'))
    teacher_dir = osp.join('work_dirs', TEACHER)
    last = osp.join(ROOT, teacher_dir, 'last_checkpoint')
    if osp.exists(last):
        with open(last) as file:
            teacher_checkpoint = file.read().strip()
    else:
        teacher_checkpoint, _ = train(
            osp.join(CONFIGS, f'{TEACHER}.py'), teacher_dir)
    teacher = test(osp.join(CONFIGS, f'{TEACHER}.py'), teacher_checkpoint,
                   osp.join(teacher_dir, 'test'))
    results = {name: [run_once(name, config, options, seed)
                      for seed in args.seeds]
               for name, (config, options) in todo.items()}
    report(args, todo, results, teacher, time.perf_counter() - start)


if __name__ == '__main__':
    main()
