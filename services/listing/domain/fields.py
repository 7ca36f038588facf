"""Technology fields (技术领域) named in the provincial plans, with their Chinese labels."""

from __future__ import annotations

from enum import StrEnum


class TechField(StrEnum):
    NEW_MATERIALS = "new_materials"                    # 新材料: 石墨烯, 先进复合材料
    ADVANCED_MANUFACTURING = "advanced_manufacturing"  # 先进制造: 增材制造, 高端装备
    INFORMATION = "information"                        # 电子信息: 人工智能, 大数据
    AEROSPACE = "aerospace"                            # 航空航天: 卫星应用
    BIOMEDICINE = "biomedicine"                        # 生物医药
    AGRICULTURE = "agriculture"                        # 现代农业
    ENVIRONMENT = "environment"                        # 资源与环境: 环境治理
    ENERGY = "energy"                                  # 新能源与节能
    MARINE = "marine"                                  # 海洋

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {
    TechField.NEW_MATERIALS: "新材料",
    TechField.ADVANCED_MANUFACTURING: "先进制造",
    TechField.INFORMATION: "电子信息",
    TechField.AEROSPACE: "航空航天",
    TechField.BIOMEDICINE: "生物医药",
    TechField.AGRICULTURE: "现代农业",
    TechField.ENVIRONMENT: "资源与环境",
    TechField.ENERGY: "新能源与节能",
    TechField.MARINE: "海洋",
}
