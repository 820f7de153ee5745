//! What any party reads of an application on L1: the Cartesi Rollups v2 Application and
//! consensus bindings, the application's settings, and the consensus' claim logs.

use crate::{Error, Result, logs::LogReader};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::Filter,
    sol,
    sol_types::SolEvent,
};
use crucible_api::claims::{AcceptedClaim, ChainClaim};

sol! {
    #[sol(rpc)]
    /// Cartesi Rollups v2 consensus (Authority or Quorum).
    interface IConsensus {
        function submitClaim(address appContract, uint256 lastProcessedBlockNumber, bytes32 outputsMerkleRoot) external;
        function getEpochLength() external view returns (uint256);
        function isOutputsMerkleRootValid(address appContract, bytes32 outputsMerkleRoot) external view returns (bool);
        event ClaimSubmitted(address indexed submitter, address indexed appContract, uint256 lastProcessedBlockNumber, bytes32 outputsMerkleRoot);
        event ClaimAccepted(address indexed appContract, uint256 lastProcessedBlockNumber, bytes32 outputsMerkleRoot);
    }

    /// Cartesi Rollups v2 output validity proof.
    struct OutputValidityProof {
        uint64 outputIndex;
        bytes32[] outputHashesSiblings;
    }

    #[sol(rpc)]
    /// Cartesi Rollups v2 Application.
    interface IApplication {
        function executeOutput(bytes calldata output, OutputValidityProof calldata proof) external;
        function wasOutputExecuted(uint256 outputIndex) external view returns (bool);
        function getOutputsMerkleRootValidator() external view returns (address);
        function getDeploymentBlockNumber() external view returns (uint256);
        function getTemplateHash() external view returns (bytes32);
        function getDataAvailability() external view returns (bytes memory);
        function validateOutput(bytes calldata output, OutputValidityProof calldata proof) external view;
        event OutputExecuted(uint64 outputIndex, bytes output);
    }
}

/// What a node reads of an application before it follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppOnChain {
    /// The consensus that validates its outputs roots.
    pub consensus: Address,
    /// The consensus' epoch length (at least 1).
    pub epoch_length: u64,
    /// The block the application was deployed in (where its inputs can start).
    pub deployment_block: u64,
    /// Its machine template's hash.
    pub template_hash: B256,
    /// Its data availability (`InputBox(address)` calldata).
    pub data_availability: Bytes,
    /// Authority (one owner) or Quorum (answers `numOfValidators`).
    pub consensus_type: crucible_api::Consensus,
}

/// Reads `app`'s consensus, the consensus' epoch length and `app`'s deployment block; an
/// address that does not answer as a Cartesi application is an error that says so.
pub async fn app_on_chain(provider: &impl Provider, app: Address) -> Result<AppOnChain> {
    let application = IApplication::new(app, provider);
    let consensus = application
        .getOutputsMerkleRootValidator()
        .call()
        .await
        .map_err(|e| Error::NotAnApplication {
            app,
            reason: e.to_string(),
        })?;
    let epoch_length = u64::try_from(
        IConsensus::new(consensus, provider)
            .getEpochLength()
            .call()
            .await?,
    )
    .unwrap_or(u64::MAX)
    .max(1);
    let deployment_block =
        u64::try_from(application.getDeploymentBlockNumber().call().await?).unwrap_or(0);
    let template_hash = application.getTemplateHash().call().await?;
    let data_availability = application.getDataAvailability().call().await?;
    let consensus_type = if crate::devnet::IQuorum::new(consensus, provider)
        .numOfValidators()
        .call()
        .await
        .is_ok()
    {
        crucible_api::Consensus::Quorum
    } else {
        crucible_api::Consensus::Authority
    };
    Ok(AppOnChain {
        consensus,
        epoch_length,
        deployment_block,
        template_hash,
        data_availability,
        consensus_type,
    })
}

/// The outputs of `app` executed in blocks `from..=to` (`OutputExecuted`), with the
/// transactions that executed them.
pub async fn executed_outputs(
    provider: &impl Provider,
    reader: &LogReader,
    app: Address,
    from: u64,
    to: u64,
) -> Result<Vec<(u64, B256)>> {
    let filter = Filter::new()
        .address(app)
        .event_signature(IApplication::OutputExecuted::SIGNATURE_HASH);
    Ok(
        decoded_logs::<IApplication::OutputExecuted>(provider, reader, &filter, (from, to))
            .await?
            .into_iter()
            .map(|(e, tx)| (e.outputIndex, tx.unwrap_or_default()))
            .collect(),
    )
}

/// The claims and accepted roots `consensus` logged for `app` in blocks `from..=to`.
pub async fn consensus_logs(
    provider: &impl Provider,
    reader: &LogReader,
    consensus: Address,
    app: Address,
    from: u64,
    to: u64,
) -> Result<(Vec<ChainClaim>, Vec<AcceptedClaim>)> {
    let range = Filter::new().address(consensus);
    let block = |b: U256| u64::try_from(b).unwrap_or(u64::MAX);
    let claims = decoded_logs::<IConsensus::ClaimSubmitted>(
        provider,
        reader,
        &range
            .clone()
            .event_signature(IConsensus::ClaimSubmitted::SIGNATURE_HASH)
            .topic2(app.into_word()),
        (from, to),
    )
    .await?
    .into_iter()
    .map(|(e, tx)| ChainClaim {
        block: block(e.lastProcessedBlockNumber),
        submitter: e.submitter,
        root: e.outputsMerkleRoot,
        tx,
    })
    .collect();
    let accepted = decoded_logs::<IConsensus::ClaimAccepted>(
        provider,
        reader,
        &range
            .event_signature(IConsensus::ClaimAccepted::SIGNATURE_HASH)
            .topic1(app.into_word()),
        (from, to),
    )
    .await?
    .into_iter()
    .map(|(e, tx)| AcceptedClaim {
        block: block(e.lastProcessedBlockNumber),
        root: e.outputsMerkleRoot,
        tx,
    })
    .collect();
    Ok((claims, accepted))
}

/// The logs `filter` selects in blocks `from..=to`, decoded as `E`, each with its
/// transaction.
pub async fn decoded_logs<E: SolEvent>(
    provider: &impl Provider,
    reader: &LogReader,
    filter: &Filter,
    (from, to): (u64, u64),
) -> Result<Vec<(E, Option<B256>)>> {
    reader
        .logs(provider, filter, from, to)
        .await?
        .into_iter()
        .map(|log| {
            let tx = log.transaction_hash;
            let event = log
                .log_decode::<E>()
                .map_err(|e| Error::BadLog {
                    event: E::SIGNATURE,
                    reason: e.to_string(),
                })?
                .inner
                .data;
            Ok((event, tx))
        })
        .collect()
}
