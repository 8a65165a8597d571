from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def requirements(name):
    lines = (HERE / 'requirements' / name).read_text().splitlines()
    return [line for line in lines if line and not line.startswith('#')]


def version():
    namespace = {}
    exec((HERE / 'mmkd' / 'version.py').read_text(), namespace)
    return namespace['__version__']


setup(
    name='mmkd',
    version=version(),
    description='Knowledge distillation for semantic segmentation and '
    'classification on OpenMMLab 2.0',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['mmkd', 'mmkd.*']),
    # The configs ship in the package, where mmengine looks for `mmkd::`
    # paths (mmkd/.mim/configs links to configs/ in the repository), and
    # so do the method benchmark's chosen settings, which the demo reads.
    package_data={'mmkd': ['.mim/model-index.yml', '.mim/configs/**/*.py',
                           'benchmark/results/*.json']},
    # mmcv is an extra: `mmcv-lite` and the compiled `mmcv` install the same
    # package, so requiring one would overwrite the other.
    install_requires=requirements('runtime.txt'),
    extras_require={
        'lite': requirements('mmcv_lite.txt'),
        'tests': requirements('tests.txt'),
        'tensorboard': requirements('tensorboard.txt'),
    },
    license='Apache-2.0',
)
