"""Training curves from mmengine's scalars: the student's own losses, each
distill term and the validation metric against iterations, for several
runs (``tools/plot_curves.py``, the method benchmark)."""
import glob
import json
import os.path as osp
from typing import Dict, List, Tuple

__all__ = ['CurveError', 'read_scalars', 'curves', 'plot_curves']

# The validation metric of each task, the first one present is plotted.
VAL_METRICS = ('mIoU', 'accuracy/top1')
Series = List[Tuple[int, float]]


class CurveError(ValueError):
    """A work dir holds no scalars to plot."""


def read_scalars(work_dir: str) -> List[dict]:
    """The records of ``<work_dir>/<timestamp>/vis_data/scalars.json``, the
    latest run's, one dict per logged step (training or validation)."""
    paths = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not paths:
        raise CurveError(f'{work_dir}: no <timestamp>/vis_data/scalars.json '
                         '(not a work dir of tools/train.py?)')
    with open(paths[-1]) as file:
        return [json.loads(line) for line in file if line.strip()]


def curves(records: List[dict]) -> Dict[str, Dict[str, Series]]:
    """``records`` sorted into three groups of ``name -> [(step, value)]``:
    ``own`` (the student's own losses: ``decode.loss_ce``, ``cls.loss``,
    ...), ``distill`` (``distill.<name>``) and ``val`` (the validation
    metric). The total ``loss`` is left out: it is their sum."""
    groups = {'own': {}, 'distill': {}, 'val': {}}
    for record in records:
        step = record['step']
        for key, value in record.items():
            if key.startswith('distill.'):
                group = 'distill'
            elif key in VAL_METRICS:
                group = 'val'
            elif 'loss' in key and key != 'loss':
                group = 'own'
            else:
                continue
            groups[group].setdefault(key, []).append((step, value))
    metrics = [m for m in VAL_METRICS if m in groups['val']]
    groups['val'] = {m: groups['val'][m] for m in metrics[:1]}
    return groups


def plot_curves(runs: Dict[str, List[dict]], path: str,
                title: str = '') -> None:
    """One figure at ``path``: the three groups of :func:`curves` side by
    side, every run of ``runs`` (label -> records) in its own colour, each
    quantity in its own line style."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    titles = {'own': "student's own losses", 'distill': 'distill losses',
              'val': 'validation'}
    styles = ['-', '--', ':', '-.']
    for colour, (label, records) in enumerate(runs.items()):
        for axis, (group, series) in zip(axes, curves(records).items()):
            for style, (name, points) in zip(styles * 4, series.items()):
                steps, values = zip(*points)
                axis.plot(steps, values, linestyle=style,
                          color=f'C{colour % 10}',
                          marker='o' if group == 'val' else None,
                          label=f'{label}: {name}')
    for axis, group in zip(axes, titles):
        axis.set_title(titles[group])
        axis.set_xlabel('iteration')
        if axis.lines:
            axis.legend(fontsize=6)
        else:
            axis.text(0.5, 0.5, 'none logged', ha='center',
                      transform=axis.transAxes)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
