package geo_test

import (
	"fmt"

	"github.com/geocloak/geocloak/geo"
)

func ExampleCell_Parent() {
	p, err := geo.NewPoint(45.7640, 4.8357)
	if err != nil {
		panic(err)
	}
	c, err := geo.CellOf(p, 9)
	if err != nil {
		panic(err)
	}
	fmt.Println(c, c.Res())
	fmt.Println(c.Parent(5), c.Parent(5).Res())
	fmt.Printf("%.1f km² at 9, %.1f km² at 5\n", geo.AvgAreaKm2(9), geo.AvgAreaKm2(5))
	// Output:
	// 891f9020933ffff 9
	// 851f9023fffffff 5
	// 0.1 km² at 9, 252.9 km² at 5
}

func ExampleNewPoint() {
	_, err := geo.NewPoint(91, 0)
	fmt.Println(err)
	// Output: latitude out of range [-90, 90]
}
