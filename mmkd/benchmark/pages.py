"""The method benchmark's pages: the sweep on val and the results on test,
as Markdown with charts, written by :func:`mmkd.benchmark.methods.
run_benchmark`. A reading written by hand between the :data:`READING`
markers of a page is kept when the page is written again."""
import datetime
import json
import os
import os.path as osp
import platform

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import mmengine  # noqa: E402
import torch  # noqa: E402

from mmkd.curves import plot_curves, read_scalars  # noqa: E402
from mmkd.version import __version__  # noqa: E402
from .stats import mean_and_std, paired_interval  # noqa: E402

__all__ = ['READING', 'kept_reading', 'sweep_page', 'results_page']


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


def sweep_page(task, sweep, chosen, teacher, seeds, pages, results,
               command):
    """The sweep's page, ``pages/<task.sweep_page>``, and the chosen
    settings as data, ``results/<task.sweep_json>``. ``seeds``: those the
    test stage trains; ``command``: the command line that ran it."""
    path = osp.join(pages, task.sweep_page)
    metric = task.metric
    student = next(r for r in sweep if r.method == 'student')
    baseline = sweep[student]['val'][metric]
    lines = [
        f'# {task.title}: the sweep (val, seed 0)', '',
        f'Written by `tools/benchmark_methods.py` on '
        f'{datetime.date.today()}: `{command}`', '',
        f'{task.metric_name} on **val**, seed 0: the settings of '
        '`mmkd/benchmark/sweeps.py` (option paths shortened from '
        '`model.distill_losses.`). The chosen setting of each method '
        '(**bold**) is its best here; it and the default go on to seeds '
        f'{", ".join(map(str, seeds))} on test: '
        f'[{osp.basename(task.results_page)}]'
        f'({osp.basename(task.results_page)}). Teacher on val: '
        f'{teacher["figures"]["val"][metric]:.2f}; student alone: '
        f'{baseline:.2f}.', '',
    ] + kept_reading(path) + [
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
    with open(path, 'w') as file:
        file.write('\n'.join(lines) + '\n')
    os.makedirs(results, exist_ok=True)
    with open(osp.join(results, task.sweep_json), 'w') as file:
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
    figure.savefig(path, dpi=100)
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
    figure.savefig(path, dpi=100)
    plt.close(figure)


def results_page(task, final, chosen, teacher, seeds, seconds, pages,
                 command):
    """The test stage's page, ``pages/<task.results_page>``, with its
    bar chart, convergence figure and training curves beside it."""
    path = osp.join(pages, task.results_page)
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
        f'{method} {setting}': read_scalars(r['work_dir'])
        for (method, setting), runs in rows.items()
        if (method, setting) == ('student', 'default') or
        chosen.get(method) == setting
        for run, r in runs[:1] if 'work_dir' in r}
    if curve_runs:
        plot_curves(curve_runs, stem + '_curves.png',
                    f'{task.title}: seed {seeds[0]}')
    base_mean = mean_and_std(baseline)[0]
    double = mean_and_std([r['test'][metric] for _, r in
                           rows[('student', 'double_schedule')]])[0]
    figures = teacher['figures']
    library = __import__(task.library)
    lines = [
        f'# {task.title}', '',
        f'Written by `tools/benchmark_methods.py` on '
        f'{datetime.date.today()}: `{command}`', '',
        f'{task.metric_name} on **test**, seeds {seeds}: a split on which '
        'no setting was chosen. Each method at its default (published) '
        'setting and at the setting it scored best with on val '
        f'([{osp.basename(task.sweep_page)}]'
        f'({osp.basename(task.sweep_page)}), seed 0). "vs. student alone" is '
        'the mean over seeds of the method minus the student alone trained '
        'with the same seed, with its 95 % t-interval over seeds.', '',
    ] + kept_reading(path) + [
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
    with open(path, 'w') as file:
        file.write('\n'.join(lines) + '\n')
    print('\n'.join(lines[:10 + len(rows)]), flush=True)
