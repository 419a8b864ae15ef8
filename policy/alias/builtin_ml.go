package alias

// Shapes of the Microsoft.MachineLearningServices resource types mlgov
// serves, in the notation of shape.go. They describe the ARM payloads
// (api-version 2025-12-01 and the older properties Azure still aliases),
// including the discriminated variants of polymorphic objects (compute
// types, job types, datastore types, credential types ...).

// mlMacros are member lists shared by several shapes.
var mlMacros = map[string]string{
	"sku":        `name tier size family capacity`,
	"systemData": `createdBy createdByType createdAt lastModifiedBy lastModifiedByType lastModifiedAt`,

	// ARM ErrorResponse.error (ErrorDetail) two levels deep, as aliased.
	"errorDetail": `code message target details[] additionalInfo[] {type}`,
	"error":       `error { code message target details[] {$errorDetail} additionalInfo[] {type} }`,

	"privateEndpointConnectionProps": `
		privateEndpoint {id subnetArmId}
		privateLinkServiceConnectionState {status description actionsRequired}
		provisioningState`,

	// Schedules (compute start/stop and the legacy job schedule).
	"recurrenceSchedule": `minutes[] hours[] weekDays[] monthDays[]`,
	"legacySchedule": `
		@Recurrence {frequency interval pattern {hours[] minutes[] weekdays[]}}
		@Cron {expression}
		endTime scheduleStatus scheduleType startTime timeZone`,

	// Job building blocks.
	"jobCompute":    `instanceCount instanceType isLocal location target`,
	"jobIdentity":   `@Managed {clientId objectId resourceId} identityType`,
	"jobResources":  `instanceCount instanceType dockerArgs shmSize locations[] maxInstanceCount`,
	"queueSettings": `jobTier priority`,
	"distribution": `
		@TensorFlow {parameterServerCount workerCount}
		@PyTorch {processCount processCountPerInstance}
		@Mpi {processCountPerInstance}
		@Ray {address dashboardPort headNodeAdditionalArgs includeDashboard port workerNodeAdditionalArgs}
		distributionType`,
	"earlyTermination": `
		@TruncationSelection {truncationPercentage}
		@Bandit {slackAmount slackFactor}
		delayEvaluation evaluationInterval policyType`,
	"customValue": `@Custom {value} mode`,
	// MLTable job input: the legacy (dataSettings) spelling and the current one.
	"legacyJobInput": `@Literal {value} mode uri description jobInputType`,
	"jobInput":       `@literal {value} mode uri description jobInputType pathOnCompute`,
	"trainingSettings": `
		enableDnnTraining enableModelExplainability enableOnnxCompatibleModels enableStackEnsemble
		enableVoteEnsemble ensembleModelDownloadTimeout
		stackEnsembleSettings {stackMetaLearnerTrainPercentage stackMetaLearnerType}`,
	"tabularTask": `
		primaryMetric allowedModels[] blockedModels[]
		trainingSettings {$trainingSettings allowedTrainingAlgorithms[] blockedTrainingAlgorithms[] trainingMode}`,
	"imageHyperparameters": `
		amsGradient augmentations beta1 beta2 distributed earlyStopping earlyStoppingDelay earlyStoppingPatience
		enableOnnxNormalization evaluationFrequency gradientAccumulationStep layersToFreeze learningRate
		learningRateScheduler modelName momentum nesterov numberOfEpochs numberOfWorkers optimizer randomSeed
		splitRatio stepLRGamma stepLRStepSize trainingBatchSize validationBatchSize warmupCosineLRCycles
		warmupCosineLRWarmupEpochs weightDecay boxDetectionsPerImage boxScoreThreshold imageSize maxSize minSize
		modelSize multiScale nmsIouThreshold tileGridSize tileOverlapRatio tilePredictionsNmsThreshold
		validationIouThreshold validationMetricType trainingCropSize validationCropSize validationResizeSize
		weightedLoss`,
	"tabularHyperparameters": `
		booster boostingType growPolicy maxBin maxDepth maxLeaves minDataInLeaf minSplitGain nEstimators
		numLeaves preprocessorName regAlpha regLambda subsample subsampleFreq treeMethod withMean withStd`,

	// Datastore credentials: the legacy "contents" ones and the current ones.
	"legacySecrets": `
		@SqlAdmin {password} @ServicePrincipal {clientSecret} @Sas {sasToken} @Certificate {certificate}
		@AccountKey {key} secretsType`,
	"legacyCredentials": `
		@SqlAdmin {userId secrets {$legacySecrets password}}
		@ServicePrincipal {authorityUrl resourceUri tenantId clientId secrets {$legacySecrets clientSecret}}
		@Certificate {thumbprint authorityUrl clientId resourceUri tenantId secrets {$legacySecrets}}
		@Sas {secrets {$legacySecrets sasToken}}
		@None {secrets {$legacySecrets}}
		@AccountKey {secrets {$legacySecrets key}}
		credentialsType`,
	"secrets": `
		@ServicePrincipal {clientSecret} @Sas {sasToken} @KerberosPassword {kerberosPassword}
		@KerberosKeytab {kerberosKeytab} @Certificate {certificate} @AccountKey {key} secretsType`,

	// Model / component references of deployments.
	"assetReference": `@OutputPath {jobId path} @Id {assetId} @DataPath {datastoreId path} referenceType`,
	"probe":          `failureThreshold initialDelay period successThreshold timeout`,
	"synapseSpark": `
		autoScaleProperties {minNodeCount enabled maxNodeCount}
		autoPauseProperties {delayInMinutes enabled}
		sparkVersion nodeCount nodeSize nodeSizeFamily subscriptionId resourceGroup workspaceName poolName`,
}

const shapeWorkspace = `
^properties {
	workspaceId description! friendlyName! creationTime batchaiWorkspace keyVault applicationInsights
	containerRegistry storageAccount discoveryUrl provisioningState
	encryption {
		status keyVaultProperties {keyVaultArmId keyIdentifier identityClientId} identity {userAssignedIdentity}
		cosmosDbResourceId storageAccountResourceId searchAccountResourceId
	}
	hbiWorkspace serviceProvisionedResourceGroup privateLinkCount imageBuildCompute! allowPublicAccessWhenBehindVnet!
	privateEndpointConnections[] {
		id name location type tags
		^properties {$privateEndpointConnectionProps}
		identity {principalId tenantId type userAssignedIdentities}
		sku {$sku}
		systemData {$systemData}
	}
	sharedPrivateLinkResources[] {
		name
		^properties {privateLinkResourceId groupId requestMessage status}
	}
	notebookInfo {fqdn resourceId isPrivateLinkEnabled notebookPreparationError {errorMessage statusCode}}
	serviceManagedResourcesSettings {cosmosDb {collectionsThroughput}}
	primaryUserAssignedIdentity! tenantId publicNetworkAccess! storageHnsEnabled mlFlowTrackingUri
	softDeleteEnabled allowRecoverSoftDeletedWorkspace v1LegacyMode! softDeletedAt scheduledPurgeDate
	systemDatastoresAuthMode!
	featureStoreSettings {
		computeRuntime {sparkRuntimeVersion} offlineStoreConnectionName onlineStoreConnectionName
		allowRoleAssignmentsOnResourceGroupLevel
	}
	softDeleteRetentionInDays! enableDataIsolation! storageAccounts[] keyVaults[] containerRegistries[]
	existingWorkspaces[] hubResourceId associatedWorkspaces[]
	managedNetwork {
		isolationMode! networkId outboundRules status {status sparkReady} changeableIsolationModes[] firewallSku
	}
	workspaceHubConfig {additionalWorkspaceStorageAccounts[] defaultWorkspaceResourceGroup}
	serverlessComputeSettings {serverlessComputeCustomSubnet serverlessComputeNoPublicIP!}
	enableSoftwareBillOfMaterials ipAllowlist[] allowRoleAssignmentOnRG enableServiceSideCMKEncryption
	enableSimplifiedCmk agentsEndpointUri provisionNetworkNow
	networkAcls {defaultAction! ipRules[] {value}}
}
sku {$sku}
`

const shapeCompute = `
^properties {
	computeType computeLocation provisioningState description! createdOn modifiedOn resourceId
	isAttachedCompute disableLocalAuth!
	provisioningErrors[] {$error}
	// The compute-type-specific object (AKS, AmlCompute, ComputeInstance,
	// Kubernetes, SynapseSpark, ...) is flattened a second time.
	^properties {
		// AKS / Kubernetes / attached computes
		clusterFqdn systemServices[] {systemServiceType publicIpAddress version} agentCount agentVMSize
		sslConfiguration {status cert key cname leafDomainLabel overwriteExistingDomain}
		aksNetworkingConfiguration {subnetId serviceCidr dnsServiceIP dockerBridgeCidr}
		clusterPurpose loadBalancerType loadBalancerSubnet
		relayConnectionString serviceBusConnectionString extensionPrincipalId extensionInstanceReleaseTrain
		vcName namespace defaultInstanceType instanceTypes
		// AmlCompute
		vmSize vmPriority osType virtualMachineImage {id} isolatedNetwork enableNodePublicIp!
		scaleSettings {maxNodeCount! minNodeCount! autoScaleEnabled nodeIdleTimeBeforeScaleDown!}
		userAccountCredentials {adminUserName adminUserSshPublicKey adminUserPassword}
		subnet {id} remoteLoginPortPublicAccess! allocationState allocationStateTransitionTime
		errors[] {$error}
		currentNodeCount targetNodeCount propertyBag
		nodeStateCounts {
			idleNodeCount runningNodeCount preparingNodeCount unusableNodeCount leavingNodeCount preemptedNodeCount
		}
		// VirtualMachine / HDInsight / Databricks / DataLakeAnalytics
		virtualMachineSize sshPort address notebookServerPort isNotebookInstanceCompute
		administratorAccount {username password publicKeyData privateKeyData}
		databricksAccessToken workspaceUrl dataLakeStoreAccountName
		// ComputeInstance
		applicationSharingPolicy computeInstanceAuthorizationType state idleTimeBeforeShutdown!
		sshSettings {sshPublicAccess adminUserName sshPort adminPublicKey}
		connectivityEndpoints {publicIpAddress privateIpAddress}
		applications[] {displayName endpointUri}
		createdBy {userName userOrgId userId}
		personalComputeInstanceSettings {assignedUser {objectId tenantId}}
		lastOperation {operationName operationTime operationStatus operationTrigger}
		setupScripts {
			scripts {
				startupScript {scriptSource scriptData scriptArguments timeout}
				creationScript {scriptSource scriptData scriptArguments timeout}
			}
		}
		schedules {
			computeStartStop[] {
				id provisioningStatus status triggerType action
				recurrence {
					frequency interval startTime timeZone endTime triggerType
					schedule {$recurrenceSchedule}
					@Recurrence {frequency interval schedule {$recurrenceSchedule}}
					@Cron {expression}
				}
				cron {
					startTime timeZone expression endTime triggerType
					@Recurrence {frequency interval schedule {$recurrenceSchedule}}
					@Cron {expression}
				}
				schedule {$legacySchedule id provisioningStatus status}
			}
		}
		containers[] {name autosave gpu network environment {name version} services[]}
		dataDisks[] {caching diskSizeGB lun storageAccountType}
		dataMounts[] {
			source sourceType mountName mountAction createdBy mountPath mountState mountedOn error mountMode
		}
		versions {runtime}
		customServices[] {
			name environmentVariables
			image {type reference version}
			docker {privileged}
			endpoints[] {protocol name target published hostIp}
			volumes[] {
				type readOnly source target consistency
				bind {propagation createHostPath selinux}
				volume {nocopy}
				tmpfs {size}
			}
			kernel {argv[] displayName language}
		}
		autologgerSettings {mlflowAutologger}
		osImageMetadata {
			currentImageVersion latestImageVersion isLatestOsImageVersion
			osPatchingStatus {
				patchStatus latestPatchTime rebootPending scheduledRebootTime
				osPatchingErrors[] {$error}
			}
		}
		enableOSPatching enableRootAccess enableSSO releaseQuotaOnStop
		// SynapseSpark, aliased both plainly and under its discriminator
		$synapseSpark
		@SynapseSpark {$synapseSpark}
	}
}
sku {$sku}
`

const shapeJob = `
^properties {
	// JobBase
	description tags jobType provisioningState interactionEndpoints experimentName status
	computeId displayName isArchived componentId services secretsConfiguration
	identity {$jobIdentity}
	schedule {$legacySchedule}
	notificationSetting {emailOn[] emails[] webhooks}

	@Command {
		codeId command environmentId environmentVariables parameters inputs outputs
		inputDataBindings outputDataBindings experimentName priority status timeout
		compute {$jobCompute}
		identity {$jobIdentity}
		output {datastoreId path}
		distribution {$distribution}
		limits {@Sweep {maxConcurrentTrials maxTotalTrials trialTimeout} jobLimitsType timeout}
		resources {$jobResources dockerArgsList[]}
		autologgerSettings {mlflowAutologger}
		queueSettings {$queueSettings}
	}
	@Sweep {
		algorithm experimentName maxConcurrentTrials maxTotalTrials priority searchSpace status timeout
		inputs outputs componentConfiguration
		compute {$jobCompute}
		identity {$jobIdentity}
		output {datastoreId path}
		objective {goal primaryMetric}
		earlyTermination {$earlyTermination}
		samplingAlgorithm {@Random {rule seed logbase} samplingAlgorithmType}
		limits {
			@Sweep {maxConcurrentTrials maxTotalTrials trialTimeout}
			maxConcurrentTrials maxTotalTrials trialTimeout jobLimitsType timeout
		}
		trial {
			codeId command environmentId environmentVariables inputDataBindings outputDataBindings timeout
			distribution {$distribution}
			resources {$jobResources dockerArgsList[]}
		}
		resources {$jobResources}
		queueSettings {$queueSettings}
	}
	@Pipeline {inputs outputs jobs sourceJobId}
	@AutoML {
		environmentId environmentVariables outputs
		resources {$jobResources dockerArgsList[]}
		queueSettings {$queueSettings}
		taskDetails {
			taskType logVerbosity targetColumnName weightColumnName testDataSize validationDataSize
			cvSplitColumnNames[]
			nCrossValidations {$customValue}
			trainingData {$jobInput}
			validationData {$jobInput}
			testData {$jobInput}
			@Classification {$tabularTask positiveLabel}
			@Regression {$tabularTask}
			@Forecasting {
				$tabularTask
				forecastingSettings {
					countryOrRegionForHolidays cvStepSize featureLags frequency shortSeriesHandlingConfig
					targetAggregateFunction timeColumnName timeSeriesIdColumnNames[] useStl
					featuresUnknownAtForecastTime[]
					forecastHorizon {$customValue}
					seasonality {$customValue}
					targetRollingWindowSize {$customValue}
					targetLags {@Custom {values[]} mode}
				}
			}
			@TextNER|TextClassification|TextClassificationMultilabel {primaryMetric}
			@ImageClassification|ImageClassificationMultilabel|ImageObjectDetection|ImageInstanceSegmentation {
				primaryMetric
			}
			dataSettings {
				targetColumnName weightColumnName
				trainingData {data {$legacyJobInput}}
				testData {data {$legacyJobInput} testDataSize}
				validationData {
					data {$legacyJobInput} validationDataSize cvSplitColumnNames[]
					nCrossValidations {$customValue}
				}
			}
			featurizationSettings {
				datasetLanguage blockedTransformers[] columnNameAndTypes dropColumns[] enableDnnFeaturization mode
				transformerParams
			}
			limitSettings {
				maxConcurrentTrials maxTrials timeout enableEarlyTermination exitScore maxCoresPerTrial trialTimeout
				maxNodes sweepConcurrentTrials sweepTrials
			}
			trainingSettings {$trainingSettings}
			sweepSettings {
				earlyTermination {$earlyTermination}
				limits {maxConcurrentTrials maxTrials}
				samplingAlgorithm
			}
			modelSettings {
				$imageHyperparameters
				advancedSettings checkpointDatasetId checkpointFilename checkpointFrequency checkpointRunId
				logTrainingMetrics logValidationLoss
				checkpointModel {$jobInput}
			}
			searchSpace[] {$imageHyperparameters gradientAccumulationSteps warmupRatio $tabularHyperparameters}
			fixedParameters {
				gradientAccumulationSteps learningRate learningRateScheduler modelName numberOfEpochs
				trainingBatchSize validationBatchSize warmupRatio weightDecay $tabularHyperparameters
			}
		}
	}
	@Spark {
		codeId environmentId environmentVariables inputs outputs archives[] args conf files[] jars[] pyFiles[]
		resources {instanceType runtimeVersion}
		entry {@SparkJobPythonEntry {className file} @SparkJobScalaEntry {className} sparkJobEntryType}
		queueSettings {$queueSettings}
	}
	@Labeling {
		provisioningState createdDateTime labelCategories projectId
		dataConfiguration {dataId incrementalDataRefreshEnabled incrementalDataRefresh}
		jobInstructions {uri}
		labelingJobMediaProperties {@Text {annotationType} @Image {annotationType} mediaType}
		mlAssistConfiguration {@Enabled {inferencingComputeBinding trainingComputeBinding} mlAssist}
		progressMetrics {
			completedDatapointCount incrementalDataLastRefreshDateTime skippedDatapointCount totalDatapointCount
		}
		statusMessages[] {code createdDateTime level message}
	}
	@FineTuning {
		outputs
		fineTuningDetails {
			modelProvider taskType
			@Custom {hyperParameters}
			@AzureOpenAI {hyperParameters {batchSize learningRateMultiplier nEpochs}}
			model {$jobInput}
			trainingData {$jobInput}
			validationData {$jobInput}
		}
		resources {instanceTypes[]}
		queueSettings {jobTier}
	}
}
`

const shapeDatastore = `
^properties {
	description tags datastoreType hasBeenValidated isDefault resourceGroup subscriptionId
	linkedInfo {linkedId linkedResourceName origin}
	intellectualProperty {protectionLevel publisher}
	credentials {
		@ServicePrincipal {authorityUrl clientId resourceUrl tenantId secrets {$secrets clientSecret}}
		@Certificate {authorityUrl clientId resourceUrl tenantId thumbprint secrets {$secrets}}
		@Sas {secrets {$secrets sasToken}}
		@AccountKey {secrets {$secrets key}}
		@KerberosPassword|KerberosKeytab {secrets {$secrets}}
		kerberosKdcAddress kerberosPrincipal kerberosRealm credentialsType
	}
	@AzureBlob {protocol accountName endpoint serviceDataAccessAuthIdentity containerName}
	@AzureFile {protocol accountName endpoint serviceDataAccessAuthIdentity fileShareName}
	@AzureDataLakeGen1 {serviceDataAccessAuthIdentity storeName}
	@AzureDataLakeGen2 {protocol accountName endpoint serviceDataAccessAuthIdentity filesystem}
	@Hdfs {hdfsServerCertificate nameNodeAddress protocol}
	@OneLake {endpoint serviceDataAccessAuthIdentity oneLakeWorkspaceName artifact {artifactName artifactType}}
	// The legacy (v1) datastore body.
	contents {
		contentsType
		@AzureBlob|AzureDataLakeGen2|AzureFile {
			accountName containerName protocol endpoint credentials {$legacyCredentials}
		}
		@AzureDataLakeGen1 {storeName credentials {$legacyCredentials}}
		@AzureSqlDatabase {databaseName endpoint portNumber serverName credentials {$legacyCredentials}}
		@AzurePostgreSql {enableSSL databaseName endpoint portNumber serverName credentials {$legacyCredentials}}
		@GlusterFs {serverAddress volumeName}
	}
}
`

const shapeConnection = `
^properties {
	category target authType value valueFormat expiryTime createdByWorkspaceArmId isSharedToAll group
	sharedUserList[] metadata error peRequirement peStatus useWorkspaceManagedIdentity
	@PAT {credentials {pat}}
	@SAS {credentials {sas}}
	@ManagedIdentity {credentials {resourceId clientId}}
	@UsernamePassword {credentials {username password securityToken}}
	@ServicePrincipal {credentials {clientId clientSecret tenantId}}
	@AccessKey {credentials {accessKeyId secretAccessKey}}
	@AccountKey {credentials {sas key}}
	@ApiKey {credentials {key}}
	@CustomKeys {credentials {keys}}
	@OAuth2 {
		credentials {clientId username password clientSecret tenantId authUrl developerToken refreshToken}
	}
}
`

const shapeOutboundRule = `
^properties {
	type status category parentRuleNames[]
	@FQDN {destination}
	@ServiceTag {destination {serviceTag protocol portRanges action addressPrefixes[]}}
	@PrivateEndpoint {
		parentRuleName fqdns[]
		destination {serviceResourceId subresourceTarget sparkEnabled sparkStatus}
	}
}
`

const shapePrivateEndpointConnection = `
^properties {
	privateEndpoint {id subnetArmId}
	privateLinkServiceConnectionState {status description actionRequired actionsRequired}
	provisioningState
}
sku {$sku}
`

const shapeOnlineEndpoint = `
^properties {
	authMode description! keys {primaryKey secondaryKey} provisioningState scoringUri swaggerUri target traffic
	compute mirrorTraffic publicNetworkAccess!
}
sku {$sku}
`

const shapeOnlineDeployment = `
^properties {
	appInsightsEnabled! description endpointComputeType environmentId environmentVariables provisioningState
	egressPublicNetworkAccess! modelMountPath privateNetworkConnection instanceType
	codeConfiguration {codeId scoringScript}
	livenessProbe {$probe}
	readinessProbe {$probe}
	model {$assetReference}
	requestSettings {maxConcurrentRequestsPerInstance maxQueueWait requestTimeout}
	scaleSettings {
		scaleType maxInstances minInstances
		@Manual {instanceCount}
		@Auto {pollingInterval targetUtilizationPercentage}
		@TargetUtilization {pollingInterval targetUtilizationPercentage maxInstances minInstances}
	}
	dataCollector {collections rollingRate requestLogging {captureHeaders[]}}
	@Managed {instanceType readinessProbe {$probe}}
	@K8S {containerResourceRequirements {cpu cpuLimit memoryInGB memoryInGBLimit gpu fpga}}
	@Kubernetes {
		containerResourceRequirements {
			containerResourceLimits {cpu gpu memory}
			containerResourceRequests {cpu gpu memory}
		}
	}
}
sku {$sku}
`

const shapeBatchEndpoint = `
^properties {
	authMode description! traffic scoringUri swaggerUri provisioningState
	keys {primaryKey secondaryKey}
	defaults {deploymentName}
}
sku {$sku}
`

const shapeBatchDeployment = `
^properties {
	description errorThreshold miniBatchSize loggingLevel environmentId environmentVariables
	maxConcurrencyPerInstance outputAction outputFileName provisioningState partitionKeys[]
	compute {target instanceCount isLocal location instanceType}
	retrySettings {maxRetries timeout}
	outputConfiguration {outputAction appendRowFileName}
	model {$assetReference}
	codeConfiguration {codeId scoringScript}
	resources {instanceCount instanceType locations[] maxInstanceCount}
	deploymentConfiguration {
		deploymentConfigurationType
		@PipelineComponent {description settings tags componentId {$assetReference assetId}}
	}
}
sku {$sku}
`

const shapeRegistry = `
^properties {
	description! tags publicNetworkAccess! discoveryUrl intellectualPropertyPublisher mlFlowRegistryUri
	privateLinkCount managedResourceGroupTags
	managedResourceGroup {resourceId}
	managedResourceGroupSettings {assignedIdentities[] {principalId}}
	regionDetails[] {
		location
		acrDetails[] {
			systemCreatedAcrAccount {acrAccountName acrAccountSku armResourceId {resourceId}}
			userCreatedAcrAccount {armResourceId {resourceId}}
		}
		storageAccountDetails[] {
			systemCreatedStorageAccount {
				storageAccountName storageAccountType storageAccountHnsEnabled allowBlobPublicAccess
				armResourceId {resourceId}
			}
			userCreatedStorageAccount {armResourceId {resourceId}}
		}
	}
	privateEndpointConnections[] {
		id location
		^properties {
			groupIds[] privateEndpoint {id subnetArmId} provisioningState
			privateLinkServiceConnectionState {actionsRequired description status}
		}
	}
	registryPrivateEndpointConnections[] {
		id location
		^properties {
			groupIds[] privateEndpoint {id subnetArmId} provisioningState
			registryPrivateLinkServiceConnectionState {actionsRequired description status}
		}
	}
	syndicatedRegistries[] {syndicatedRegistryGuid syndicatedRegistry {registryId}}
}
sku {$sku}
`

// Resource-provider-mode (data-plane) component types used by the ML
// built-ins. Azure publishes no alias catalog for them; the paths are
// relative to the component payload the resource provider evaluates, which
// has no "properties" wrapper.
const shapeDataWorkspace = `
computeName computeType isIsolatedNetwork tags[]
`

const shapeV2DataDeployment = `
model {assetId publisher registryName}
`
