package standards

// Category is one band of an AQI scale with what the public is told about it.
type Category struct {
	Level    int    // 1 (best) .. 6 (worst)
	Min, Max int    // inclusive AQI range
	Name     string // Vietnamese name, e.g. "Tốt"
	NameEN   string // English name
	Colour   string // colour name as published, e.g. "Xanh"
	RGB      [3]uint8
	Hex      string // "#00e400"
	// Health is the health effect statement (VN_AQI: Bảng 4).
	Health string
	// AdviceGeneral and AdviceSensitive are the recommended activities for
	// ordinary people and for sensitive groups (VN_AQI: Bảng 5).
	AdviceGeneral, AdviceSensitive string
	Source                         string
}

// VNCategories are the six VN_AQI bands with their official colours
// (Decision 1459/QĐ-TCMT, section 1.4, Bảng 1), health statements
// (section 3, Bảng 4) and recommended activities (section 3, Bảng 5, p. 11).
// The "Nguy hại" row of Bảng 5 is one merged cell for both groups.
var VNCategories = []Category{
	{
		Level: 1, Min: 0, Max: 50, Name: "Tốt", NameEN: "Good", Colour: "Xanh",
		RGB: [3]uint8{0, 228, 0}, Hex: "#00e400",
		Health:          "Chất lượng không khí tốt, không ảnh hưởng tới sức khỏe",
		AdviceGeneral:   "Tự do thực hiện các hoạt động ngoài trời",
		AdviceSensitive: "Tự do thực hiện các hoạt động ngoài trời",
		Source:          decision1459 + ", 1.4 Bảng 1; 3 Bảng 4, Bảng 5",
	},
	{
		Level: 2, Min: 51, Max: 100, Name: "Trung bình", NameEN: "Moderate", Colour: "Vàng",
		RGB: [3]uint8{255, 255, 0}, Hex: "#ffff00",
		Health:          "Chất lượng không khí ở mức chấp nhận được. Tuy nhiên, đối với những người nhạy cảm (người già, trẻ em, người mắc các bệnh hô hấp, tim mạch…) có thể chịu những tác động nhất định tới sức khỏe.",
		AdviceGeneral:   "Tự do thực hiện các hoạt động ngoài trời",
		AdviceSensitive: "Nên theo dõi các triệu chứng như ho hoặc khó thở, nhưng vẫn có thể hoạt động bên ngoài.",
		Source:          decision1459 + ", 1.4 Bảng 1; 3 Bảng 4, Bảng 5",
	},
	{
		Level: 3, Min: 101, Max: 150, Name: "Kém", NameEN: "Poor", Colour: "Da cam",
		RGB: [3]uint8{255, 126, 0}, Hex: "#ff7e00",
		Health:          "Những người nhạy cảm gặp phải các vấn đề về sức khỏe, những người bình thường ít ảnh hưởng.",
		AdviceGeneral:   "Những người thấy có triệu chứng đau mắt, ho hoặc đau họng… nên cân nhắc giảm các hoạt động ngoài trời. Đối với học sinh, có thể hoạt động bên ngoài, nhưng nên giảm bớt việc tập thể dục kéo dài.",
		AdviceSensitive: "Nên giảm các hoạt động mạnh và giảm thời gian hoạt động ngoài trời. Những người mắc bệnh hen suyễn có thể cần sử dụng thuốc thường xuyên hơn.",
		Source:          decision1459 + ", 1.4 Bảng 1; 3 Bảng 4, Bảng 5",
	},
	{
		Level: 4, Min: 151, Max: 200, Name: "Xấu", NameEN: "Bad", Colour: "Đỏ",
		RGB: [3]uint8{255, 0, 0}, Hex: "#ff0000",
		Health:          "Những người bình thường bắt đầu có các ảnh hưởng tới sức khỏe, nhóm người nhạy cảm có thể gặp những vấn đề sức khỏe nghiêm trọng hơn.",
		AdviceGeneral:   "Mọi người nên giảm các hoạt động mạnh khi ở ngoài trời, tránh tập thể dục kéo dài và nghỉ ngơi nhiều hơn trong nhà.",
		AdviceSensitive: "Nên ở trong nhà và giảm hoạt động mạnh. Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn.",
		Source:          decision1459 + ", 1.4 Bảng 1; 3 Bảng 4, Bảng 5",
	},
	{
		Level: 5, Min: 201, Max: 300, Name: "Rất xấu", NameEN: "Very bad", Colour: "Tím",
		RGB: [3]uint8{143, 63, 151}, Hex: "#8f3f97",
		Health:          "Cảnh báo hưởng tới sức khỏe: mọi người bị ảnh hưởng tới sức khỏe nghiêm trọng hơn.",
		AdviceGeneral:   "Mọi người hạn chế tối đa các hoạt động ngoài trời và chuyển tất cả các hoạt động vào trong nhà. Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn.",
		AdviceSensitive: "Nên ở trong nhà và giảm hoạt động mạnh.",
		Source:          decision1459 + ", 1.4 Bảng 1; 3 Bảng 4, Bảng 5",
	},
	{
		Level: 6, Min: 301, Max: 500, Name: "Nguy hại", NameEN: "Hazardous", Colour: "Nâu",
		RGB: [3]uint8{126, 0, 35}, Hex: "#7e0023",
		Health:          "Cảnh báo khẩn cấp về sức khỏe: Toàn bộ dân số bị ảnh hưởng tới sức khỏe tới mức nghiêm trọng.",
		AdviceGeneral:   "Mọi người nên ở trong nhà, đóng cửa ra vào và cửa sổ. Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn.",
		AdviceSensitive: "Mọi người nên ở trong nhà, đóng cửa ra vào và cửa sổ. Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn.",
		Source:          decision1459 + ", 1.4 Bảng 1; 3 Bảng 4, Bảng 5",
	},
}

// VNCategory returns the VN_AQI band of a rounded index. Values above 500
// (not produced by this package) fall in the last band; negative ones in none.
func VNCategory(aqi int) (Category, bool) {
	return categoryOf(VNCategories, aqi)
}

func categoryOf(cats []Category, aqi int) (Category, bool) {
	if aqi < 0 || len(cats) == 0 {
		return Category{}, false
	}
	for _, c := range cats {
		if aqi <= c.Max {
			return c, true
		}
	}
	return cats[len(cats)-1], true
}
