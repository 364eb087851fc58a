"""Plain-language explanations of the technology types and regimes, from the paper.

Each entry gives a short English explanation and the paper's own words (the
paper is in Chinese; ``../shared/paper/``). Presets without an entry here (a
regime added as data later) fall back to the description in their data file.
"""

from __future__ import annotations

from dataclasses import dataclass

from kctsim.config import load_technology, regime_description


@dataclass(frozen=True)
class Explanation:
    title: str
    plain: str
    quote: str = ""


TECHNOLOGIES: dict[str, Explanation] = {
    "key_generic": Explanation(
        "Key generic technology (关键共性技术)",
        "Basic, general-purpose technology used across whole industries (the paper's "
        "examples: EUV lithography, aviation tyres, bearing steel). Abroad it exists and "
        "is blockaded; at home it is weak. Its results spill over easily to other firms, "
        "so every firm would rather wait for someone else to pay for it: the paper blames "
        "its absence on subject dislocation, the government taking the firms' place as "
        "the innovating subject.",
        "制造业的关键共性技术是在制造业领域中可以被广泛应用的技术，如EUV光刻机、航空轮胎、"
        "轴承钢等。……该类技术很容易从一家企业溢出从而使其他企业受益",
    ),
    "cutting_edge": Explanation(
        "Cutting-edge technology (前沿引领技术)",
        "Technology nobody has yet, at home or abroad: new principles or combinations that "
        "open a new technological trajectory and can reshape whole industries. Whoever "
        "breaks through first leads; a foreign rival may get there first. The paper blames "
        "its absence on path dependence: introduce-digest-absorb imitation, local "
        "improvement, low tolerance of failure and weak IP protection.",
        "前沿引领技术是在科学技术的新原理、新组合和新应用的基础上开辟全新技术轨道，"
        "可能导致传统产业归零或者价值网络重塑……的先导性关键核心技术",
    ),
    "major_strategic": Explanation(
        "Major strategic technology (重大战略技术)",
        "Whole systems of national importance (large aircraft, rockets, nuclear power "
        "stations), both missing at home and monopolised abroad. A breakthrough is a chain "
        "from basic research through technology generation to application, each stage "
        "needing the one before it. The paper blames its absence on resource "
        "misallocation: funding heavy at the start and light later, imitation favoured "
        "over originality, supply not matched to what each stage needs.",
        "重大战略技术的突破是一个包含基础研究、技术产生、技术应用等多阶段活动的链条……"
        "现有的资源配置模式表现出“重前期轻后期”、“重模仿轻原创”等缺陷",
    ),
}

REGIMES: dict[str, Explanation] = {
    "spiral": Explanation(
        "Spiral Progressive (螺旋递进), the paper's mode for key generic technology",
        "The government guides (platforms, co-funding, tolerance of failure) but a leader "
        "firm is the core subject; SMEs, universities and users collaborate with it in "
        "repeated cycles, sharing results and risks.",
        "形成以政府引导，领军企业为核心主体、其他主体战略协同、多元交互的“螺旋递进”式突破模式",
    ),
    "jungle": Explanation(
        "Jungle Competition (丛林竞争), the paper's mode for cutting-edge technology",
        "Market-driven: every capable actor (state-managed organisations, leader firms, "
        "SMEs, scientists) competes and co-operates as an equal. It needs four conditions: "
        "social trust, information sharing, risk tolerance and people-orientation.",
        "所有技术创新主体没有主次之分，而是全部参与到平等竞合的创新“丛林”中去……"
        "至少需要四个必要条件：①社会信任……②信息共享……③风险包容……④以人为本",
    ),
    "main_layout": Explanation(
        "Main Layout (主控布局), the paper's mode for major strategic technology",
        "Top-down: the government initiates and lays out the chain, state-managed "
        "organisations are the core subject with collaborators, and resources are "
        "concentrated and sustained stage after stage.",
        "“自上而下，逐级下达”的顶层设计思维……通过将国管组织作为技术创新核心主体，从基础研究抓起",
    ),
    "dislocated": Explanation(
        "Subject dislocation (主体错位), the paper's cause for missing key generic technology",
        "The government takes over the innovating subject's role from firms: it sets the "
        "research direction and hands its results out, so firms' own effort is crowded out "
        "and everyone free-rides.",
        "政府会不由自主地取代企业的技术突破主体地位，越过自身的作用边界，"
        "或多或少地干预企业技术突破的进行",
    ),
    "path_dependent": Explanation(
        "Path dependence (路径依赖), the paper's cause for missing cutting-edge technology",
        "Firms keep to introduce-digest-absorb-reinnovate: they imitate the foreign design "
        "first, improve locally, avoid risky exploration, and weak IP protection lets "
        "results leak.",
        "我国制造业长期以来都采用“引进-消化-吸收-再创新”的技术创新模式，形成了一定的路径依赖",
    ),
    "misallocated": Explanation(
        "Resource misallocation (资源错配), the paper's cause for blocked major strategic chains",
        "Money is spent early and split by a fixed rule that favours the imitation-heavy "
        "downstream stages, instead of following the stage that is the bottleneck.",
        "现有的资源配置模式表现出“重前期轻后期”、“重模仿轻原创”等缺陷，造成资源的供需难以匹配",
    ),
}


def technology_explanation(name: str) -> Explanation:
    """The explanation of a technology type (its data description if the paper has none)."""
    if name in TECHNOLOGIES:
        return TECHNOLOGIES[name]
    return Explanation(name, load_technology(name).description)


def regime_explanation(name: str) -> Explanation:
    """The explanation of a regime preset (its data description if the paper has none)."""
    if name in REGIMES:
        return REGIMES[name]
    return Explanation(name, regime_description(name))
