# The classification counterpart of DigitScapes: the digit patches (each
# handwritten scan drawn as DigitScapes draws digits, alone on a 36x36
# patch of paper; mmkd/datasets.py write_digit_patches), classified by the
# DigitScapes backbones. Data and model parts are the pretraining's
# (configs/digitscapes/_base_/patches.py and backbones.py), whose classifiers
# read the same train split; here val chooses settings and test reports
# them (tools/benchmark_methods.py --task cls). Sized for a 2-core CPU.
_base_ = ['../../digitscapes/_base_/patches.py',
          '../../digitscapes/_base_/backbones.py']

test_dataloader = dict(dataset=dict(data_prefix='test'))

# The student's schedule: 15 epochs (1350 iterations of batch 64). A probe
# of the width-4 student (val, seed 0) scored 91.11 after 10 epochs and
# 92.78 after 20. On test, 30 epochs added +1.67 (3 seeds): not converged
# by issue 14's 1-point rule yet (docs/results_digits_cls.md).
max_epochs = 15
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True,
         eta_min=1e-5)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs,
                 val_interval=5)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
