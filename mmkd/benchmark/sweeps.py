"""The method benchmark's runs (:mod:`mmkd.benchmark.methods`), per task:
the teacher, the student alone, the backbones' pretraining, the student's
doubled schedule, and, for each method, its config (in the task's config
folder) and at most 4 settings as ``--cfg-options``. The first setting,
``default``, is the config as it is: the method's published or default
setting. Every setting is trained once (seed 0) and compared on val; each
method's default and its best setting on val are then trained with every
seed and reported on test."""


def losses(name, **values):
    """--cfg-options setting ``values`` of distill loss ``name``."""
    return [f'model.distill_losses.{name}.{key}={value}'
            for key, value in values.items()]


seg = dict(
    teacher='pspnet_r18w16_digitscapes',
    student='pspnet_r18w8_digitscapes',
    pretrain=['pretrain/pretrain_r18w8_digit_patches',
              'pretrain/pretrain_r18w16_digit_patches'],
    # the student's schedule doubled: its test score must barely move
    double_schedule=['train_cfg.max_iters=4000', 'train_cfg.val_interval=1000',
                     'param_scheduler.0.end=4000',
                     'default_hooks.checkpoint.interval=4000'],
    methods=dict(
        kd=dict(config='pspnet_r18w16_to_r18w8_digitscapes_kd',
                settings=dict(
                    default=[],
                    w3=losses('loss_kd', loss_weight=3.0),
                    tau4=losses('loss_kd', tau=4.0),
                    # no distillation where the label is 255: the padding
                    # and rotation borders, and the digits' rims
                    ignore255=['model.distill_ignore_index=255'])),
        cwd=dict(config='pspnet_r18w16_to_r18w8_digitscapes_cwd',
                 settings=dict(
                     default=[],
                     # the CWD paper's setting for segmentation logits
                     tau4_w3=losses('loss_cwd', tau=4.0, loss_weight=3.0),
                     w1=losses('loss_cwd', loss_weight=1.0))),
        dist=dict(config='pspnet_r18w16_to_r18w8_digitscapes_dist',
                  settings=dict(
                      default=[],
                      w2=losses('loss_dist', loss_weight=2.0),
                      w0_5=losses('loss_dist', loss_weight=0.5))),
        bdd=dict(config='pspnet_r18w16_to_r18w8_digitscapes_bdd',
                 settings=dict(
                     default=[],
                     w0_3=losses('loss_bdd', loss_weight=0.3),
                     rw0_3=losses('loss_bdd', reverse_weight=0.3))),
        bdd_spatial=dict(
            config='pspnet_r18w16_to_r18w8_digitscapes_bdd_spatial',
            settings=dict(
                default=[],
                # CWD's weight, then the CWD paper's temperature and weight
                w5=losses('loss_bdd', loss_weight=5.0),
                tau4_w3=losses('loss_bdd', tau_forward=4.0, tau_reverse=4.0,
                               loss_weight=3.0))),
        pcd=dict(config='pspnet_r18w16_to_r18w8_digitscapes_pcd',
                 settings=dict(
                     default=[],
                     w10=losses('loss_pcd', loss_weight=10.0),
                     w30=losses('loss_pcd', loss_weight=30.0))),
        # beyond the logits: DIST on the auxiliary heads too, and CWD on
        # the PSP bottleneck's features through a connector
        dist_aux=dict(config='pspnet_r18w16_to_r18w8_digitscapes_dist_aux',
                      settings=dict(default=[])),
        cwd_feat=dict(config='pspnet_r18w16_to_r18w8_digitscapes_cwd_feat',
                      settings=dict(default=[])),
        # the methods papers compare against, at their published settings
        at=dict(config='pspnet_r18w16_to_r18w8_digitscapes_at',
                settings=dict(default=[])),
        skd=dict(config='pspnet_r18w16_to_r18w8_digitscapes_skd',
                 settings=dict(default=[])),
        ifvd=dict(config='pspnet_r18w16_to_r18w8_digitscapes_ifvd',
                  settings=dict(default=[])),
        cirkd=dict(config='pspnet_r18w16_to_r18w8_digitscapes_cirkd',
                   settings=dict(default=[])),
        mgd=dict(config='pspnet_r18w16_to_r18w8_digitscapes_mgd',
                 settings=dict(default=[])),
        dkd=dict(config='pspnet_r18w16_to_r18w8_digitscapes_dkd',
                 settings=dict(default=[])),
    ))

cls = dict(
    teacher='resnet18w16_digits',
    student='resnet18w4_digits',
    pretrain=[],
    double_schedule=['train_cfg.max_epochs=40', 'train_cfg.val_interval=5',
                     'param_scheduler.0.T_max=40',
                     'default_hooks.checkpoint.interval=40'],
    methods=dict(
        kd=dict(config='resnet18w16_to_resnet18w4_digits_kd', settings=dict(
            default=[],
            tau1=losses('loss_kd', tau=1.0),
            w3=losses('loss_kd', loss_weight=3.0))),
        dist=dict(config='resnet18w16_to_resnet18w4_digits_dist',
                  settings=dict(
                      default=[],
                      w2=losses('loss_dist', loss_weight=2.0),
                      tau4=losses('loss_dist', tau=4.0))),
        bdd=dict(config='resnet18w16_to_resnet18w4_digits_bdd',
                 settings=dict(
                     default=[],
                     rw0_3=losses('loss_bdd', reverse_weight=0.3),
                     tau1=losses('loss_bdd', tau_forward=1.0,
                                 tau_reverse=1.0))),
        pcd=dict(config='resnet18w16_to_resnet18w4_digits_pcd',
                 settings=dict(
                     default=[],
                     w10=losses('loss_pcd', loss_weight=10.0),
                     tau1=losses('loss_pcd', tau=1.0))),
        dkd=dict(config='resnet18w16_to_resnet18w4_digits_dkd',
                 settings=dict(default=[])),
        kd_ls=dict(config='resnet18w16_to_resnet18w4_digits_kd_ls',
                   settings=dict(default=[])),
    ))

SWEEPS = dict(seg=seg, cls=cls)
