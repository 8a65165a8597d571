"""`make demo`: distillation on DigitScapes, end to end on a CPU.

Builds DigitScapes (real handwritten digits from scikit-learn, in the
Cityscapes layout), trains the teacher (PSPNet, ResNetV1c-50 of width 16)
unless an earlier run left one, trains the student alone (PSPNet,
ResNetV1c-18 of width 16) unless an earlier run left it, distils the
teacher into the student with BDD, tests all three with tools/test.py, and
prints their mIoU; the per-class IoU goes to a PNG plot.
"""
import os.path as osp
import time

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402

from mmkd.datasets import CLASSES, SPLITS, write_digitscapes  # noqa: E402
from mmkd.runs import ROOT, test, train  # noqa: E402

DATA_ROOT = 'data/digitscapes'
CONFIGS = 'configs/digitscapes'
TEACHER = ('teacher: PSPNet-R50 (width 16)', 'pspnet_r50_digitscapes')
STUDENT = ('student alone: PSPNet-R18 (width 16)', 'pspnet_r18_digitscapes')
BDD = ('student with BDD from the teacher',
       'pspnet_r50_to_r18_digitscapes_bdd')
PLOT = 'work_dirs/demo_digitscapes_per_class_iou.png'


def step(message):
    print(f'\n==> {message}', flush=True)


def trained(name, reuse):
    """The checkpoint of configs/digitscapes/<name>.py in work_dirs/<name>,
    trained now unless ``reuse`` and an earlier run left one."""
    work_dir = osp.join('work_dirs', name)
    last = osp.join(ROOT, work_dir, 'last_checkpoint')
    if reuse and osp.exists(last):
        with open(last) as file:
            checkpoint = file.read().strip()
        if osp.exists(checkpoint):
            print(f'reusing {checkpoint} (delete {work_dir} to retrain)')
            return checkpoint
    checkpoint, seconds = train(osp.join(CONFIGS, f'{name}.py'), work_dir)
    print(f'trained in {seconds / 60:.1f} min: {checkpoint}')
    return checkpoint


def plot(results):
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
    axes.set_title('DigitScapes val, per class')
    axes.legend(loc='upper right', fontsize=8)
    figure.tight_layout()
    figure.savefig(osp.join(ROOT, PLOT), dpi=100)


def main():
    start = time.perf_counter()
    if not osp.isdir(osp.join(ROOT, DATA_ROOT, 'leftImg8bit')):
        step(f'building DigitScapes in {DATA_ROOT}')
        write_digitscapes(osp.join(ROOT, DATA_ROOT))
        print(f'{SPLITS["train"]} train and {SPLITS["val"]} val images')

    results = {}
    for (label, name), reuse, minutes in ((TEACHER, True, 6),
                                          (STUDENT, True, 1.5),
                                          (BDD, False, 2.5)):
        step(f'{label}: configs/digitscapes/{name}.py (about {minutes} min '
             'on 2 CPU cores)')
        checkpoint = trained(name, reuse)
        results[label] = test(osp.join(CONFIGS, f'{name}.py'), checkpoint,
                              osp.join('work_dirs', name, 'test'))

    step('result: DigitScapes val')
    header = f'{"model":<40}{"mIoU":>8}{"mAcc":>8}{"aAcc":>8}'
    print(header)
    print('-' * len(header))
    for label, figures in results.items():
        print(f'{label:<40}' + ''.join(f'{figures[key]:>8.2f}'
                                       for key in ('mIoU', 'mAcc', 'aAcc')))
    plot(results)
    print(f'\nper-class IoU plot: {PLOT}')
    print(f'total time: {(time.perf_counter() - start) / 60:.1f} min')


if __name__ == '__main__':
    main()
