"""`make demo`: distill PSPNet-R101 into PSPNet-R18 with pixel-wise KD on a
small generated dataset in the Cityscapes layout, then test the student.

Until the embedded dataset lands, the teacher is the real PSPNet-R101
architecture with initial (untrained) weights, written as a model-zoo style
checkpoint: the demo shows the whole path (config, teacher checkpoint
verification, distillation, student-only testing), not a useful teacher.
"""
import os.path as osp
import re
import subprocess
import sys

from mmkd.testing import write_cityscapes_layout, write_model_checkpoint

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = 'configs/demo/pspnet_r101_to_r18_kd_tiny.py'
DATA_ROOT = 'data/demo_cityscapes'
TEACHER_CONFIG = 'mmseg::pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py'
TEACHER_CHECKPOINT = osp.join(DATA_ROOT, 'teacher_pspnet_r101.pth')
WORK_DIR = 'work_dirs/demo_pspnet_r101_to_r18_kd'
MAX_ITERS = 40


def step(message):
    print(f'\n==> {message}', flush=True)


def run(*args):
    command = [sys.executable, *args]
    print('$ ' + ' '.join(command), flush=True)
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        print(result.stdout)
        sys.exit(f'failed: {" ".join(command)}')
    return result.stdout


def main():
    if not osp.isdir(osp.join(ROOT, DATA_ROOT, 'leftImg8bit')):
        step(f'writing a small Cityscapes-layout dataset to {DATA_ROOT}')
        write_cityscapes_layout(osp.join(ROOT, DATA_ROOT), images_per_city=4)
    if not osp.isfile(osp.join(ROOT, TEACHER_CHECKPOINT)):
        step(f'writing an untrained PSPNet-R101 teacher checkpoint to '
             f'{TEACHER_CHECKPOINT}')
        write_model_checkpoint(TEACHER_CONFIG,
                               osp.join(ROOT, TEACHER_CHECKPOINT))

    step(f'distilling PSPNet-R101 -> PSPNet-R18 with KD, {MAX_ITERS} '
         'iterations on the CPU (~1 s each)')
    log = run('tools/train.py', CONFIG, '--work-dir', WORK_DIR,
              '--cfg-options', f'train_cfg.max_iters={MAX_ITERS}')
    for line in log.splitlines():
        if 'Iter(train)' in line:
            print(re.sub(r'^.* - INFO - ', '', line)[:160])

    step('testing the student alone with tools/test.py')
    checkpoint = osp.join(WORK_DIR, f'iter_{MAX_ITERS}.pth')
    output = run('tools/test.py', CONFIG, checkpoint, '--work-dir', WORK_DIR)
    table = [line for line in output.splitlines() if line.startswith(('|', '+'))]
    print('\n'.join(table))
    metrics = dict(re.findall(r'(\w+): ([\d.]+)', output.splitlines()[-1]))

    step('result')
    header = f'{"model":<40}{"mIoU":>8}{"mAcc":>8}{"aAcc":>8}'
    print(header)
    print('-' * len(header))
    print(f'{"PSPNet-R18, KD from PSPNet-R101 (" + str(MAX_ITERS) + " it)":<40}'
          + ''.join(f'{float(metrics[k]):>8.2f}'
                    for k in ('mIoU', 'mAcc', 'aAcc')))
    print(f'\nstudent checkpoint: {checkpoint}\nlogs: {WORK_DIR}')


if __name__ == '__main__':
    main()
