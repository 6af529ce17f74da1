"""Installs visionlab from lib/ with the requirements and console scripts listed in settings.ini."""
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']
setuptools.setup(
    name=cfg['lib_name'], version=cfg['version'], description=cfg['description'],
    author=cfg['author'], license=cfg['license'], python_requires='>=' + cfg['min_python'],
    package_dir={'': 'lib'}, packages=setuptools.find_packages('lib'),
    package_data={cfg['lib_name']: ['prompts/*.yaml', 'prompts/classes/*.yaml']},   # zero-shot prompt library (data files)
    install_requires=cfg['requirements'].split(),
    entry_points={'console_scripts': cfg['console_scripts'].split(),
                  'nbdev': [f"{cfg['lib_name']}={cfg['lib_name']}._modidx:d"]},
    zip_safe=False)
