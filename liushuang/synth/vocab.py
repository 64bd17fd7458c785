"""Vocabulary for synthetic Dalian-like records: names, departments, catalogue.

All names are invented combinations; departments and districts follow the
structure of a real prefecture-level city (DOMAIN.md §1, §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
GIVEN = "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉兰萍红鹏辉建国志文斌宇浩凯丹晶婷雪琳欣宁海波峰晨阳"
BRAND = ["鑫源", "海韵", "星海", "滨城", "金石", "东港", "华信", "恒达", "博远", "瑞丰", "润泽", "乐途", "嘉禾", "盛世", "锦程",
         "天成", "福满", "长兴", "丰华", "汇通", "德胜", "宏图", "凯旋", "安泰", "永盛", "新港", "蓝湾", "金沙", "银滩", "鸿运",
         "东方", "北辰", "远洋", "碧海", "春和", "晨光", "惠民", "万家", "百川", "聚福", "和顺", "祥瑞", "旭日", "云帆", "启航"]

# (region code, district name, share of entities)
DISTRICTS = [
    ("210202", "中山区", 0.10), ("210203", "西岗区", 0.09), ("210204", "沙河口区", 0.13), ("210211", "甘井子区", 0.24),
    ("210212", "旅顺口区", 0.05), ("210213", "金州区", 0.17), ("210214", "普兰店区", 0.06), ("210224", "长海县", 0.01),
    ("210281", "瓦房店市", 0.08), ("210283", "庄河市", 0.07),
]

# Departments: name -> (short code used in ids and decision numbers, sector word)
DEPARTMENTS = {
    "大连市市场监督管理局": ("SJ", "市监"),
    "大连市卫生健康委员会": ("WJ", "卫健"),
    "大连市生态环境局": ("HJ", "环"),
    "大连市交通运输局": ("JT", "交"),
    "大连市文化和旅游局": ("WL", "文旅"),
    "大连市应急管理局": ("YJ", "应急"),
    "大连市消防救援支队": ("XF", "消"),
    "大连市药品监督管理局": ("YP", "药监"),
}
REGISTRAR = "大连市市场监督管理局"

# Post-approval catalogue items (后置审批事项): code -> (name, department, licence certificate, prefix)
CATALOGUE = {
    "HZ001": ("食品经营许可", "大连市市场监督管理局", "食品经营许可证", "JY"),
    "HZ002": ("食品生产许可", "大连市市场监督管理局", "食品生产许可证", "SC"),
    "HZ003": ("公共场所卫生许可", "大连市卫生健康委员会", "公共场所卫生许可证", "WS"),
    "HZ004": ("排污许可", "大连市生态环境局", "排污许可证", "PW"),
    "HZ005": ("道路运输经营许可", "大连市交通运输局", "道路运输经营许可证", "YS"),
    "HZ006": ("娱乐场所经营许可", "大连市文化和旅游局", "娱乐经营许可证", "YL"),
    "HZ007": ("危险化学品经营许可", "大连市应急管理局", "危险化学品经营许可证", "WH"),
    "HZ008": ("公众聚集场所投入使用、营业前消防安全检查", "大连市消防救援支队", "消防安全检查合格证", "XF"),
    "HZ009": ("药品经营许可", "大连市药品监督管理局", "药品经营许可证", "YP"),
    "HZ010": ("第二类医疗器械经营备案", "大连市药品监督管理局", "第二类医疗器械经营备案凭证", "QX"),
}

# Industries (GB/T 4754 code, name, shop word, catalogue items, share)
INDUSTRIES = [
    ("H6210", "正餐服务", "餐饮", ["HZ001", "HZ008"], 0.16),
    ("H6220", "快餐服务", "快餐", ["HZ001"], 0.08),
    ("F5211", "百货零售", "商贸", ["HZ001"], 0.14),
    ("F5251", "药品零售", "大药房", ["HZ009", "HZ010"], 0.05),
    ("O8010", "居民服务", "美容美发", ["HZ003"], 0.07),
    ("R9011", "歌舞厅娱乐活动", "娱乐", ["HZ006", "HZ008", "HZ003"], 0.02),
    ("G5430", "道路货物运输", "物流", ["HZ005"], 0.06),
    ("C1391", "食品制造", "食品", ["HZ002", "HZ004"], 0.03),
    ("F5162", "石油及制品批发", "石化", ["HZ007"], 0.02),
    ("I6510", "软件开发", "科技", [], 0.12),
    ("L7212", "企业管理服务", "商务咨询", [], 0.13),
    ("E4700", "房屋建筑业", "建筑工程", [], 0.07),
    ("M7320", "工程和技术研究", "技术", [], 0.05),
]

VIOLATIONS = [
    ("经营不符合食品安全标准的食品", "《中华人民共和国食品安全法》第三十四条、第一百二十四条", "食品"),
    ("未按规定公示年度报告", "《企业信息公示暂行条例》第八条", "其他"),
    ("虚假宣传", "《中华人民共和国反不正当竞争法》第八条、第二十条", "其他"),
    ("未取得许可从事经营活动", "《无证无照经营查处办法》第二条、第十三条", "其他"),
    ("不执行政府指导价", "《中华人民共和国价格法》第三十九条", "其他"),
    ("使用未经检定的计量器具", "《中华人民共和国计量法》第九条", "其他"),
    ("使用未经登记的特种设备", "《中华人民共和国特种设备安全法》第三十三条、第八十三条", "特种设备"),
    ("未落实安全生产主体责任", "《中华人民共和国安全生产法》第二十一条、第九十四条", "安全生产"),
    ("消防设施未保持完好有效", "《中华人民共和国消防法》第十六条、第六十条", "消防"),
    ("销售劣药", "《中华人民共和国药品管理法》第九十八条、第一百一十七条", "药品"),
    ("销售不合格产品", "《中华人民共和国产品质量法》第三十九条、第五十条", "其他"),
    ("商标侵权", "《中华人民共和国商标法》第五十七条、第六十条", "其他"),
]

INSPECTION_ITEMS = [
    ("食品经营者经营行为的检查", "《中华人民共和国食品安全法》第一百一十条", "大连市市场监督管理局", "重点检查事项", 0.05),
    ("企业公示信息的检查", "《企业信息公示暂行条例》第十四条", "大连市市场监督管理局", "一般检查事项", 0.03),
    ("产品质量的检查", "《中华人民共和国产品质量法》第十五条", "大连市市场监督管理局", "一般检查事项", 0.03),
    ("计量器具使用的检查", "《中华人民共和国计量法》第十八条", "大连市市场监督管理局", "一般检查事项", 0.03),
    ("特种设备使用单位的检查", "《中华人民共和国特种设备安全法》第五十七条", "大连市市场监督管理局", "重点检查事项", 0.05),
    ("公共场所卫生的检查", "《公共场所卫生管理条例》第十条", "大连市卫生健康委员会", "一般检查事项", 0.03),
    ("排污单位的检查", "《排污许可管理条例》第二十五条", "大连市生态环境局", "重点检查事项", 0.05),
    ("道路运输经营者的检查", "《中华人民共和国道路运输条例》第五十八条", "大连市交通运输局", "一般检查事项", 0.03),
    ("娱乐场所的检查", "《娱乐场所管理条例》第三十四条", "大连市文化和旅游局", "一般检查事项", 0.03),
    ("危险化学品经营单位的检查", "《危险化学品安全管理条例》第六条", "大连市应急管理局", "重点检查事项", 0.05),
    ("消防安全的检查", "《中华人民共和国消防法》第五十三条", "大连市消防救援支队", "重点检查事项", 0.05),
    ("药品经营企业的检查", "《中华人民共和国药品管理法》第九十九条", "大连市药品监督管理局", "重点检查事项", 0.05),
]

# Credit-risk classes and their default spot-check ratios (DOMAIN.md §5:
# one province's high 30 %, medium-high 10 %, medium 2 %, low 1 %).
CREDIT_CLASSES = [("A", 0.40, 0.01), ("B", 0.35, 0.02), ("C", 0.18, 0.10), ("D", 0.07, 0.30)]

PUBLIC_RANDOM_SOURCES = ["中国福利彩票“双色球”开奖号码", "体育彩票“大乐透”开奖号码", "多方掷骰（监督员、企业代表、检查人员各一）"]


# --- cities ------------------------------------------------------------------
# A province is synthesised city by city (``liushuang.synth.province``). Each city
# has its own region codes (GB/T 2260 prefecture codes of Liaoning's cities), its
# departments ("<city>市市场监督管理局" …), and its own marks in decision numbers
# and record ids, so that no key repeats across the province. Dalian, the default,
# is exactly the city above: its records do not change.


@dataclass(frozen=True)
class City:
    name: str             # 大连
    code: str             # prefecture code without the trailing 00: 2102
    short: str            # in penalty decision numbers: 连市监…罚字
    license_short: str    # in licence decision numbers: 大市监许准字
    tag: str              # in record ids (RW…, TZ…): "" for the default city
    districts: tuple[tuple[str, str, float], ...]
    province: str = "辽宁省"


DALIAN = City("大连", "2102", "连", "大", "", tuple(DISTRICTS))
_SUFFIX = ("区", "区", "区", "区", "区", "县", "市")
_NUMERALS = "一二三四五六七"


def liaoning_city(name: str, code: str, short: str, districts: int) -> City:
    """A city of the synthetic province: real prefecture code and name, invented
    district names ("沈阳一区" …), districts of equal weight."""
    rows = tuple((f"{code}{n + 1:02d}", f"{name}{_NUMERALS[n]}{_SUFFIX[n]}", 1.0 / districts) for n in range(districts))
    return City(name, code, short, short, code, rows)


def localized(city: City) -> SimpleNamespace:
    """This module's vocabulary for ``city``: department names and the catalogue
    and inspection items that name them carry the city's name."""
    def rename(value: str) -> str:
        return value.replace("大连市", f"{city.name}市")

    return SimpleNamespace(
        SURNAMES=SURNAMES, GIVEN=GIVEN, BRAND=BRAND, INDUSTRIES=INDUSTRIES, VIOLATIONS=VIOLATIONS,
        CREDIT_CLASSES=CREDIT_CLASSES, PUBLIC_RANDOM_SOURCES=PUBLIC_RANDOM_SOURCES, DISTRICTS=list(city.districts),
        DEPARTMENTS={rename(k): v for k, v in DEPARTMENTS.items()}, REGISTRAR=rename(REGISTRAR),
        CATALOGUE={k: (n, rename(d), c, p) for k, (n, d, c, p) in CATALOGUE.items()},
        INSPECTION_ITEMS=[(n, b, rename(d), k, r) for n, b, d, k, r in INSPECTION_ITEMS])
