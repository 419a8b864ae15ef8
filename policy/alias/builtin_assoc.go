package alias

// Shapes of the associated resource types mlgov serves next to the ML
// workspace (storage, key vault, registry, monitoring, networking,
// identity). They cover the properties mlgov stores and the built-in
// definitions test; deep read-only expansions that Azure also aliases (a
// subnet's network security group's network interfaces ...) are left out.

var assocMacros = map[string]string{
	"connectionState": `status description actionRequired actionsRequired`,
	"privateLinkServiceConnection": `
		id name type etag
		^properties {
			privateLinkServiceId groupIds[] requestMessage provisioningState resolvedPrivateLinkServiceLocation
			privateLinkServiceConnectionState {$connectionState}
		}`,
	"encryptionService": `enabled lastEnabledTime keyType`,
	"subnetProperties": `
		addressPrefix addressPrefixes[] purpose provisioningState defaultOutboundAccess!
		privateEndpointNetworkPolicies! privateLinkServiceNetworkPolicies!
		networkSecurityGroup {id} routeTable {id} natGateway {id}
		serviceEndpoints[] {service locations[] provisioningState}
		delegations[] {id name type etag ^properties {serviceName actions[] provisioningState}}
		ipConfigurations[] {id} privateEndpoints[] {id} ipAllocations[] {id}
		serviceEndpointPolicies[] {id} resourceNavigationLinks[] {id} serviceAssociationLinks[] {id}
		ipConfigurationProfiles[] {id} applicationGatewayIpConfigurations[] interfaceEndpoints[] {id}`,
}

const shapeStorageAccount = `
^properties {
	accountType accessTier supportsHttpsTrafficOnly! allowBlobPublicAccess! minimumTlsVersion! allowSharedKeyAccess!
	allowCrossTenantReplication! defaultToOAuthAuthentication! publicNetworkAccess! isHnsEnabled isNfsV3Enabled
	isSftpEnabled isLocalUserEnabled allowedCopyScope dnsEndpointType largeFileSharesState
	provisioningState primaryLocation statusOfPrimary azureFilesAadIntegration
	networkAcls {
		defaultAction! bypass!
		virtualNetworkRules[]! {id action state}
		ipRules[]! {value action}
		resourceAccessRules[] {tenantId resourceId}
	}
	encryption {
		keySource requireInfrastructureEncryption
		services {
			blob {$encryptionService} file {$encryptionService}
			table {$encryptionService} queue {$encryptionService}
		}
		keyvaultproperties {
			keyvaulturi keyname keyversion currentVersionedKeyIdentifier lastKeyRotationTimestamp
			currentVersionedKeyExpirationTimestamp
		}
		identity {userAssignedIdentity federatedIdentityClientId}
	}
	primaryEndpoints {web blob queue table file}
	customDomain {name useSubDomainName}
	azureFilesIdentityBasedAuthentication {
		directoryServiceOptions defaultSharePermission
		activeDirectoryProperties {
			domainName netBiosDomainName forestName domainGuid domainSid azureStorageSid samAccountName accountType
		}
	}
	routingPreference {routingChoice publishMicrosoftEndpoints publishInternetEndpoints}
	privateEndpointConnections[] {
		id name type
		^properties {
			privateEndpoint {id} provisioningState
			privateLinkServiceConnectionState {status description actionRequired}
		}
	}
	sasPolicy {sasExpirationPeriod expirationAction}
	keyPolicy {keyExpirationPeriodInDays}
	keyCreationTime {key1 key2}
	immutableStorageWithVersioning {
		enabled
		immutabilityPolicy {immutabilityPeriodSinceCreationInDays state allowProtectedAppendWrites}
	}
}
sku {name tier resourceType kind locations[] capabilities[] {name value} restrictions[] {type values[] reasonCode}}
`

const shapeKeyVault = `
^properties {
	tenantId! vaultUri createMode provisioningState hsmPoolResourceId softDeleteRetentionInDays
	enabledForDeployment! enabledForDiskEncryption! enabledForTemplateDeployment! enableSoftDelete!
	enablePurgeProtection! enableRbacAuthorization! publicNetworkAccess!
	sku! {name! family!}
	networkAcls {
		defaultAction! bypass!
		ipRules[] {value}
		virtualNetworkRules[] {id ignoreMissingVnetServiceEndpoint}
	}
	accessPolicies[]! {
		tenantId! objectId! applicationId!
		permissions {keys[]! secrets[]! certificates[]! storage[]!}
	}
	privateEndpointConnections[] {
		id etag
		^properties {privateEndpoint {id} privateLinkServiceConnectionState {$connectionState} provisioningState}
	}
}
`

const shapeContainerRegistry = `
^properties {
	loginServer creationDate adminUserEnabled! provisioningState firewallRulesEnabled firewallRules[]
	dataEndpointEnabled dataEndpointHostNames[] publicNetworkAccess! networkRuleBypassOptions zoneRedundancy
	anonymousPullEnabled!
	storageAccount {name accessKey id}
	status {displayStatus message timestamp}
	networkRuleSet {
		defaultAction
		virtualNetworkRules[] {action id}
		ipRules[] {action value}
	}
	policies {
		quarantinePolicy {status}
		trustPolicy {type status}
		retentionPolicy {days lastUpdatedTime status}
		exportPolicy {status}
		azureADAuthenticationAsArmPolicy {status!}
		softDeletePolicy {retentionDays lastUpdatedTime status}
	}
	encryption {
		status
		keyVaultProperties {
			keyIdentifier identity versionedKeyIdentifier keyRotationEnabled lastKeyRotationTimestamp
		}
	}
	privateEndpointConnections[] {
		id name type
		^properties {
			privateEndpoint {id} provisioningState
			privateLinkServiceConnectionState {status description actionsRequired}
		}
		systemData {createdBy createdByType createdAt lastModifiedBy lastModifiedByType lastModifiedAt}
	}
}
sku {name tier}
`

const shapeAppInsights = `
^properties {
	ApplicationId AppId Name InstrumentationKey ConnectionString CreationDate TenantId provisioningState
	SamplingPercentage RetentionInDays DisableIpMasking ImmediatePurgeDataOn30Days IngestionMode
	WorkspaceResourceId LaMigrationDate DisableLocalAuth! ForceCustomerStorageForProfiler
	publicNetworkAccessForIngestion! publicNetworkAccessForQuery!
	PrivateLinkScopedResources[] {ResourceId ScopeId}
}
`

// The ".enabled" aliases without [*] that select every element of the
// array are in the exceptions table (Azure's legacy spelling).
const shapeDiagnosticSetting = `
^properties {
	storageAccountId workspaceId eventHubAuthorizationRuleId eventHubName serviceBusRuleId
	logAnalyticsDestinationType marketplacePartnerId
	logs[] {category categoryGroup enabled retentionPolicy {enabled days}}
	metrics[] {category timeGrain enabled retentionPolicy {enabled days}}
}
`

const shapePrivateEndpoint = `
^properties {
	provisioningState resourceGuid customNetworkInterfaceName
	subnet {id}
	networkInterfaces[] {id}
	applicationSecurityGroups[] {id}
	privateLinkServiceConnections[] {$privateLinkServiceConnection}
	manualPrivateLinkServiceConnections[] {$privateLinkServiceConnection}
	customDnsConfigs[] {fqdn ipAddresses[]}
	ipConfigurations[] {name type etag ^properties {groupId memberName privateIPAddress}}
}
`

const shapePrivateDNSZoneGroup = `
^properties {
	provisioningState
	privateDnsZoneConfigs[] {
		id name type etag
		^properties {
			privateDnsZoneId provisioningState
			recordSets[] {recordType recordSetName fqdn provisioningState ttl ipAddresses[]}
		}
	}
}
`

const shapePrivateDNSZone = `
^properties {
	maxNumberOfRecordSets numberOfRecordSets maxNumberOfVirtualNetworkLinks numberOfVirtualNetworkLinks
	maxNumberOfVirtualNetworkLinksWithRegistration numberOfVirtualNetworkLinksWithRegistration
	provisioningState internalId
}
`

const shapeVirtualNetworkLink = `
^properties {virtualNetwork {id} registrationEnabled virtualNetworkLinkState provisioningState}
`

const shapeVirtualNetwork = `
^properties {
	resourceGuid provisioningState enableDdosProtection! enableVmProtection flowTimeoutInMinutes
	addressSpace {addressPrefixes[]}
	dhcpOptions {dnsServers[]}
	ddosProtectionPlan {id!}
	bgpCommunities {virtualNetworkCommunity regionalCommunity}
	encryption {enabled enforcement}
	ipAllocations[] {id}
	subnets[] {id name type etag ^properties {$subnetProperties}}
	virtualNetworkPeerings[] {
		id name type etag
		^properties {
			allowVirtualNetworkAccess allowForwardedTraffic allowGatewayTransit useRemoteGateways peeringState
			provisioningState peeringSyncLevel syncRemoteAddressSpace resourceGuid doNotVerifyRemoteGateways
			remoteVirtualNetwork {id}
			remoteAddressSpace {addressPrefixes[]}
			remoteVirtualNetworkAddressSpace {addressPrefixes[]}
			remoteBgpCommunities {virtualNetworkCommunity regionalCommunity}
			remoteVirtualNetworkEncryption {enabled enforcement}
		}
	}
	flowLogs[] {
		id name type location tags
		^properties {
			targetResourceId targetResourceGuid storageId enabled flowAnalyticsConfiguration
			retentionPolicy {days enabled}
			format {type version}
		}
	}
}
`

const shapeSubnet = `
^properties {$subnetProperties}
`

const shapeUserAssignedIdentity = `
^properties {tenantId principalId clientId clientSecretUrl}
`

// Microsoft.Security/assessments (api-version 2021-06-01): the assessment
// mlgov records from vulnerability scanners' reports (package security).
const shapeSecurityAssessment = `
^properties {
	displayName additionalData
	status {code cause description}
	resourceDetails {source @Azure {id}}
	metadata {displayName description remediationDescription severity assessmentType userImpact implementationEffort categories[] threats[] preview policyDefinitionId}
	links {azurePortalUri}
}
`
