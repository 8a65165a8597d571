# The DigitScapes backbones, shared by the segmentation configs and the
# classifiers that pretrain them (configs/digitscapes/pretrain/), so that
# the pretrained weights fit key for key. Both are ResNetV1c-18 dilated to
# output stride 8 as MMSegmentation's -d8 models; the student has base
# width 8 (1/8 of the usual), the teacher width 16 (four times the
# student's compute). A deeper teacher (ResNetV1c-50, width 16) cost 2.6
# times this one per forward pass on 2 CPU cores, more than the benchmark's
# budget allows.
norm_cfg = dict(type='BN', requires_grad=True)
student_backbone = dict(
    type='ResNetV1c',
    depth=18,
    stem_channels=8,
    base_channels=8,
    out_indices=(0, 1, 2, 3),
    dilations=(1, 1, 2, 4),
    strides=(1, 2, 1, 1),
    norm_cfg=norm_cfg,
    contract_dilation=True)
teacher_backbone = dict(student_backbone, stem_channels=16, base_channels=16)
# Channels of the last two stages, which the heads read.
student_channels = (32, 64)
teacher_channels = (64, 128)
# Both decode heads are 64 channels wide and both auxiliary heads 16, so
# that what the student lacks is its backbone. With 16/8-wide heads the
# width-8 student was far from converged after 1000 iterations (val mIoU
# +7.0 when the schedule doubled).
head_channels = 64
auxiliary_channels = 16
# Where the pretraining leaves its classifiers (tools/benchmark_methods.py
# and tools/demo.py train them first).
student_pretrained = 'work_dirs/pretrain_r18w8_digit_patches/epoch_6.pth'
teacher_pretrained = 'work_dirs/pretrain_r18w16_digit_patches/epoch_6.pth'
