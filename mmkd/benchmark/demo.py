"""The demo (``make demo``): distillation on DigitScapes, end to end on a
CPU, in the current directory.

Builds DigitScapes (real handwritten digits from scikit-learn, in the
Cityscapes layout) and the digit patches that pretrain the backbones under
``data/``, pretrains the teacher's (ResNetV1c-18, width 16) and the
student's (ResNetV1c-18, width 8) backbones, trains the teacher PSPNet and
the student PSPNet alone, distils the teacher into the student with BDD in
the form and setting the method benchmark chose on val (its chosen
settings ship with mmkd: ``mmkd/benchmark/results/sweep_digitscapes.json``),
tests the three on the test split and prints their mIoU; the per-class IoU
goes to a PNG plot, and a picture of one test image (input, ground truth,
teacher, distilled student, their per-pixel KL) to another, as
``tools/visualize.py`` draws it. Runs under ``work_dirs/`` that an earlier
demo or benchmark trained with the same settings on as many threads are
reused; independent runs train side by side, sharing the CPU cores.
"""
import json
import os.path as osp
import time
from concurrent.futures import ThreadPoolExecutor

from mmkd.datasets import CLASSES, DIGIT_PATCHES_DATA, DIGITSCAPES_DATA
from .methods import RESULTS, TASKS
from .runs import settings_digest, test, threads_each, trained, write_missing

__all__ = ['run_demo', 'chosen_bdd', 'train_in_lanes']

CONFIGS = 'mmkd::digitscapes'
STUDENT_PRETRAIN = 'pretrain/pretrain_r18w8_digit_patches'
TEACHER_PRETRAIN = 'pretrain/pretrain_r18w16_digit_patches'
PRETRAIN = (STUDENT_PRETRAIN, TEACHER_PRETRAIN)
TEACHER = 'pspnet_r18w16_digitscapes'
STUDENT = 'pspnet_r18w8_digitscapes'
BDD_CONFIGS = {'bdd': 'pspnet_r18w16_to_r18w8_digitscapes_bdd',
               'bdd_spatial': 'pspnet_r18w16_to_r18w8_digitscapes_bdd_spatial'}
SWEEP = osp.join(RESULTS, TASKS['seg'].sweep_json)
PLOT = 'work_dirs/demo_digitscapes_per_class_iou.png'
PICTURE_IMAGE = ('data/digitscapes/leftImg8bit/test/digitown/'
                 'digitown_000000_000001_leftImg8bit.png')
PICTURE = 'work_dirs/demo_digitscapes_prediction.png'
DATASETS = (DIGITSCAPES_DATA, DIGIT_PATCHES_DATA)
TEACHER_LABEL = 'teacher: PSPNet-R18 (width 16)'
STUDENT_LABEL = 'student alone: PSPNet-R18 (width 8)'


def step(message):
    print(f'\n==> {message}', flush=True)


def chosen_bdd(sweep_file: str = SWEEP):
    """The BDD form and setting with the best val mIoU in the benchmark's
    chosen settings (``sweep_file``, default the ones that ship with
    mmkd): (method, setting, config, options, val mIoU)."""
    with open(sweep_file) as file:
        sweep = json.load(file)
    method = max(BDD_CONFIGS, key=lambda m: sweep['val'][
        f'{m}/{sweep["chosen"][m]["setting"]}'])
    setting = sweep['chosen'][method]['setting']
    return (method, setting, f'{CONFIGS}/{BDD_CONFIGS[method]}.py',
            sweep['chosen'][method]['options'],
            sweep['val'][f'{method}/{setting}'])


def train_in_lanes(lanes, reuse):
    """``lanes``: lists of jobs, each job (label, config, work_dir, options,
    upstream); the lanes train side by side, sharing the CPU cores, each
    its jobs one after another. Returns label -> run record."""
    threads = threads_each(len(lanes))

    def lane(jobs):
        records = {}
        for label, config, work_dir, options, upstream in jobs:
            start = time.perf_counter()
            records[label] = trained(config, work_dir, options, upstream,
                                     reuse=reuse, quiet=True,
                                     threads=threads)
            how = f'reused {records[label]["checkpoint"]}' \
                if records[label]['reused'] else \
                f'trained in {(time.perf_counter() - start) / 60:.1f} min'
            print(f'{label}: {how}', flush=True)
        return records

    with ThreadPoolExecutor(len(lanes)) as pool:
        return {label: record for records in pool.map(lane, lanes)
                for label, record in records.items()}


def plot(results):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure, axes = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(results)
    for index, (label, figures) in enumerate(results.items()):
        values = [figures['per_class'].get(name, float('nan'))
                  for name in CLASSES]
        axes.bar([c + (index - (len(results) - 1) / 2) * width
                  for c in range(len(CLASSES))], values, width,
                 label=f'{label} ({figures["mIoU"]:.1f} mIoU)')
    axes.set_xticks(range(len(CLASSES)), CLASSES)
    axes.set_ylabel('IoU (%)')
    axes.set_ylim(0, 100)
    axes.set_title('DigitScapes test, per class')
    axes.legend(loc='lower right', fontsize=8)
    figure.tight_layout()
    figure.savefig(PLOT, dpi=100)


def run_demo(reuse: bool = True) -> dict:
    """The demo (see the module docstring), in the current directory: data
    under ``data/``, runs under ``work_dirs/``. ``reuse=False`` trains every
    run again. Returns the three models' test figures by label."""
    start = time.perf_counter()
    write_missing(DATASETS)

    # The teacher's chain (its backbone, the teacher, BDD) is the long one:
    # it gets both cores while it runs alone, and the student's backbone
    # and the student alone train beside the teacher, which they do not
    # need. Two runs side by side on one thread each get more done than one
    # on two threads, so the cores are never split three ways.
    pretrain = {name: (f'{CONFIGS}/{name}.py',
                       osp.join('work_dirs', osp.basename(name)), [], ())
                for name in PRETRAIN}
    # Every run names both pretrainings upstream, as the benchmark's do;
    # a digest is known before its run trains.
    upstream = tuple(settings_digest(config) for config, *_ in
                     pretrain.values())

    step("pretraining the teacher's backbone on digit patches")
    models = train_in_lanes(
        [[(TEACHER_PRETRAIN, *pretrain[TEACHER_PRETRAIN])]], reuse)

    step("training the teacher; beside it, pretraining the student's "
         'backbone and training the student alone')
    models.update(train_in_lanes([
        [(TEACHER_LABEL, f'{CONFIGS}/{TEACHER}.py',
          osp.join('work_dirs', TEACHER), [], upstream)],
        [(STUDENT_PRETRAIN, *pretrain[STUDENT_PRETRAIN]),
         (STUDENT_LABEL, f'{CONFIGS}/{STUDENT}.py',
          osp.join('work_dirs', STUDENT), [], upstream)]], reuse))

    method, setting, config, options, val_miou = chosen_bdd()
    settings = ' '.join(options) or 'its config as it is'
    step(f'distilling with {method} ({setting}: {settings}; chosen on val '
         f'in {SWEEP}, val mIoU {val_miou:.2f})')
    label = f'student with BDD ({method}, {setting})'
    models.update(train_in_lanes(
        [[(label, config, 'work_dirs/demo_bdd', options,
           upstream + (models[TEACHER_LABEL]['settings'], ))]],
        reuse=False))

    step('testing the three on the test split')
    configs = {TEACHER_LABEL: f'{CONFIGS}/{TEACHER}.py',
               STUDENT_LABEL:
               f'{CONFIGS}/{STUDENT}.py',
               label: config}
    threads = threads_each(len(configs))

    def tested(item):
        name, model_config = item
        checkpoint = models[name]['checkpoint']
        return name, test(model_config, checkpoint,
                          osp.join(osp.dirname(checkpoint), 'test'),
                          threads=threads)

    with ThreadPoolExecutor(len(configs)) as pool:
        results = dict(pool.map(tested, configs.items()))

    step('result: DigitScapes test')
    header = f'{"model":<44}{"mIoU":>8}{"mAcc":>8}{"aAcc":>8}'
    print(header)
    print('-' * len(header))
    for name, figures in results.items():
        print(f'{name:<44}' + ''.join(f'{figures[key]:>8.2f}'
                                      for key in ('mIoU', 'mAcc', 'aAcc')))
    plot(results)
    print(f'\nper-class IoU plot: {PLOT}')
    from mmkd.visualization import load_pair, render
    cfg, student, teacher = load_pair(
        config, models[label]['checkpoint'], configs[TEACHER_LABEL],
        models[TEACHER_LABEL]['checkpoint'])
    scores = render(cfg, student, teacher, PICTURE_IMAGE, PICTURE)
    print(f'one test image, teacher {scores["teacher"]:.1f} and distilled '
          f'student {scores["student"]:.1f} mIoU on it: {PICTURE}')
    print(f'total time: {(time.perf_counter() - start) / 60:.1f} min')
    return results
