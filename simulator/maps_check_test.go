package simulator

import (
	"testing"

	mbmap "github.com/quantrac/quantrac/drivers/modbus"
)

func TestScenarioMapsParse(t *testing.T) {
	for _, p := range []string{"../configs/scenarios/maps/simulator-weather-f64-dcba.yaml", "../configs/scenarios/maps/simulator-water-i32-badc.yaml"} {
		if _, err := mbmap.LoadRegisterMap(p); err != nil {
			t.Fatal(err)
		}
	}
}
