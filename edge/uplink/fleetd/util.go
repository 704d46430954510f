package fleetd

import (
	"fmt"
	"strconv"
)

func itoa(i int) string    { return strconv.Itoa(i) }
func utoa(u uint64) string { return strconv.FormatUint(u, 10) }

func days(s int64) string {
	if s <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fd", float64(s)/86400)
}
