"""What the C. elegans readers share: the 302 canonical neuron names and package versions.

Every C. elegans reader (:mod:`._celegans_connectome`, :mod:`._celegans_funatlas`,
:mod:`._celegans_activity`) uses one orientation convention: the first matrix axis is the
*source* (presynaptic cell, stimulated neuron) and the second the *target* (postsynaptic
cell, responding neuron). ``conn.sel(pre="AVDL", post="AVAL")`` and
``atlas.dff.sel(stimulus="AVDL", unit="AVAL")`` both describe AVDL acting on AVAL.
"""

from __future__ import annotations

import importlib.metadata

__all__ = ["NEURONS"]

#: The 302 canonical hermaphrodite neuron names, in cect's order
#: (``cect.Cells.PREFERRED_HERM_NEURON_NAMES``, cect 0.3.5).
NEURONS: tuple[str, ...] = (
    "ADAL", "ADAR", "ADEL", "ADER", "ADFL", "ADFR", "ADLL", "ADLR", "AFDL", "AFDR", "AIAL",
    "AIAR", "AIBL", "AIBR", "AIML", "AIMR", "AINL", "AINR", "AIYL", "AIYR", "AIZL", "AIZR",
    "ALA", "ALML", "ALMR", "ALNL", "ALNR", "AQR", "AS1", "AS10", "AS11", "AS2", "AS3", "AS4",
    "AS5", "AS6", "AS7", "AS8", "AS9", "ASEL", "ASER", "ASGL", "ASGR", "ASHL", "ASHR", "ASIL",
    "ASIR", "ASJL", "ASJR", "ASKL", "ASKR", "AUAL", "AUAR", "AVAL", "AVAR", "AVBL", "AVBR",
    "AVDL", "AVDR", "AVEL", "AVER", "AVFL", "AVFR", "AVG", "AVHL", "AVHR", "AVJL", "AVJR",
    "AVKL", "AVKR", "AVL", "AVM", "AWAL", "AWAR", "AWBL", "AWBR", "AWCL", "AWCR", "BAGL",
    "BAGR", "BDUL", "BDUR", "CANL", "CANR", "CEPDL", "CEPDR", "CEPVL", "CEPVR", "DA1", "DA2",
    "DA3", "DA4", "DA5", "DA6", "DA7", "DA8", "DA9", "DB1", "DB2", "DB3", "DB4", "DB5", "DB6",
    "DB7", "DD1", "DD2", "DD3", "DD4", "DD5", "DD6", "DVA", "DVB", "DVC", "FLPL", "FLPR",
    "HSNL", "HSNR", "I1L", "I1R", "I2L", "I2R", "I3", "I4", "I5", "I6", "IL1DL", "IL1DR",
    "IL1L", "IL1R", "IL1VL", "IL1VR", "IL2DL", "IL2DR", "IL2L", "IL2R", "IL2VL", "IL2VR",
    "LUAL", "LUAR", "M1", "M2L", "M2R", "M3L", "M3R", "M4", "M5", "MCL", "MCR", "MI", "NSML",
    "NSMR", "OLLL", "OLLR", "OLQDL", "OLQDR", "OLQVL", "OLQVR", "PDA", "PDB", "PDEL", "PDER",
    "PHAL", "PHAR", "PHBL", "PHBR", "PHCL", "PHCR", "PLML", "PLMR", "PLNL", "PLNR", "PQR",
    "PVCL", "PVCR", "PVDL", "PVDR", "PVM", "PVNL", "PVNR", "PVPL", "PVPR", "PVQL", "PVQR",
    "PVR", "PVT", "PVWL", "PVWR", "RIAL", "RIAR", "RIBL", "RIBR", "RICL", "RICR", "RID",
    "RIFL", "RIFR", "RIGL", "RIGR", "RIH", "RIML", "RIMR", "RIPL", "RIPR", "RIR", "RIS",
    "RIVL", "RIVR", "RMDDL", "RMDDR", "RMDL", "RMDR", "RMDVL", "RMDVR", "RMED", "RMEL", "RMER",
    "RMEV", "RMFL", "RMFR", "RMGL", "RMGR", "RMHL", "RMHR", "SAADL", "SAADR", "SAAVL", "SAAVR",
    "SABD", "SABVL", "SABVR", "SDQL", "SDQR", "SIADL", "SIADR", "SIAVL", "SIAVR", "SIBDL",
    "SIBDR", "SIBVL", "SIBVR", "SMBDL", "SMBDR", "SMBVL", "SMBVR", "SMDDL", "SMDDR", "SMDVL",
    "SMDVR", "URADL", "URADR", "URAVL", "URAVR", "URBL", "URBR", "URXL", "URXR", "URYDL",
    "URYDR", "URYVL", "URYVR", "VA1", "VA10", "VA11", "VA12", "VA2", "VA3", "VA4", "VA5",
    "VA6", "VA7", "VA8", "VA9", "VB1", "VB10", "VB11", "VB2", "VB3", "VB4", "VB5", "VB6",
    "VB7", "VB8", "VB9", "VC1", "VC2", "VC3", "VC4", "VC5", "VC6", "VD1", "VD10", "VD11",
    "VD12", "VD13", "VD2", "VD3", "VD4", "VD5", "VD6", "VD7", "VD8", "VD9",
)  # fmt: skip

_NEURON_SET = frozenset(NEURONS)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
