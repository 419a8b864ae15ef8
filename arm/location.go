package arm

import "slices"

// publicLocations are the short names of the Azure public-cloud regions
// (as `az account list-locations` gives them): the locations mlgov serves
// unless configured otherwise (resources.Config.Locations).
var publicLocations = [...]string{
	// Americas
	"eastus", "eastus2", "centralus", "northcentralus", "southcentralus", "westcentralus",
	"westus", "westus2", "westus3", "canadacentral", "canadaeast", "brazilsouth", "brazilsoutheast",
	"mexicocentral", "chilecentral",
	// Europe
	"northeurope", "westeurope", "uksouth", "ukwest", "francecentral", "francesouth",
	"germanywestcentral", "germanynorth", "switzerlandnorth", "switzerlandwest", "norwayeast",
	"norwaywest", "swedencentral", "swedensouth", "polandcentral", "italynorth", "spaincentral",
	// Middle East and Africa
	"uaenorth", "uaecentral", "qatarcentral", "israelcentral", "southafricanorth", "southafricawest",
	// Asia Pacific
	"eastasia", "southeastasia", "japaneast", "japanwest", "koreacentral", "koreasouth",
	"centralindia", "southindia", "westindia", "jioindiacentral", "jioindiawest",
	"australiaeast", "australiasoutheast", "australiacentral", "australiacentral2",
	"newzealandnorth", "indonesiacentral", "malaysiawest",
}

// PublicLocations returns the Azure public-cloud region names (a new,
// sorted slice).
func PublicLocations() []string {
	out := slices.Clone(publicLocations[:])
	slices.Sort(out)
	return out
}

// GlobalLocation is the location of resources that live in no region
// (private DNS zones, for example); only some types accept it.
const GlobalLocation = "global"

// MaxLocationLength bounds a location as sent (display names such as
// "Australia Central 2" included).
const MaxLocationLength = 64
