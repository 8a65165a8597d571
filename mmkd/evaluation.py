"""The official Cityscapes evaluation (``cityscapesscripts``) as an mmengine
metric, next to MMSegmentation's ``IoUMetric``."""
import os.path as osp
from typing import Dict

from mmseg.evaluation import CityscapesMetric

from mmkd.registry import METRICS

try:
    import cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling as \
        cityscapes_eval
except ImportError:  # mmseg's CityscapesMetric says how to install it
    cityscapes_eval = None


@METRICS.register_module()
class CityscapesOfficialMetric(CityscapesMetric):
    """Class mIoU and category mIoU (in %) from ``cityscapesscripts``'
    ``evaluateImgLists`` on the predictions, converted to Cityscapes label
    ids, against the ``*_gtFine_labelIds.png`` maps of the official
    download; logged as ``cityscapes_official/mIoU`` and
    ``cityscapes_official/category_mIoU``.

    MMSegmentation's ``CityscapesMetric`` writes the predictions the same
    way but reports category scores only, and asks for the instance maps;
    this one reports the class mIoU, comparable with ``IoUMetric``'s, and
    needs only the label ids.

    Args:
        output_dir (str): where the prediction PNGs go.
        keep_results (bool): keep them after evaluation.
    """
    default_prefix = 'cityscapes_official'

    def __init__(self, output_dir: str, keep_results: bool = False,
                 **kwargs) -> None:
        super().__init__(output_dir, keep_results=keep_results, **kwargs)
        # CityscapesMetric sets the prefix to the argument, even when None
        self.prefix = kwargs.get('prefix') or self.default_prefix

    def compute_metrics(self, results: list) -> Dict[str, float]:
        predictions, ground_truths = zip(*results)
        missing = [path for path in ground_truths if not osp.exists(path)]
        if missing:
            raise FileNotFoundError(
                f'the official Cityscapes evaluation reads '
                f'*_gtFine_labelIds.png maps (from gtFine_trainvaltest.zip); '
                f'{len(missing)} are missing, e.g. {missing[0]}')
        args = cityscapes_eval.args
        args.evalInstLevelScore = False
        args.evalPixelAccuracy = False
        args.JSONOutput = False
        args.predictionPath = osp.abspath(self.output_dir)
        scores = cityscapes_eval.evaluateImgLists(
            list(predictions), list(ground_truths), args)
        return {
            'mIoU': round(100 * scores['averageScoreClasses'], 2),
            'category_mIoU': round(100 * scores['averageScoreCategories'], 2),
        }
