//! Deploying an application on any chain, and a local devnet.
//!
//! On a chain that has Cartesi Rollups v2.2.0 at the canonical addresses (every public chain
//! Cartesi supports), only the consensus and the Application are deployed, through the
//! canonical factories ([`deploy_application`]). A development chain first gets those
//! contracts from the published npm artifacts (`@cartesi/rollups@2.2.0`, CREATE2 with a
//! zero salt: [`install_canonical`]) and a reward token from `contracts/` ([`deploy`]).

use crate::{Confirm, Error, Result};
use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol,
    sol_types::SolValue,
};
use crucible_types::rollup;
use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The CREATE2 proxy anvil pre-installs (Arachnid's deterministic deployer).
pub const CREATE2_DEPLOYER: Address =
    alloy::primitives::address!("0x4e59b44847b379578588920cA78FbF26c0B4956C");

/// anvil's well-known development keys (mnemonic "test test … junk"), accounts 0..9.
pub const ANVIL_KEYS: [&str; 10] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// anvil's chain id.
pub const ANVIL_CHAIN_ID: u64 = 31337;

sol! {
    #[sol(rpc)]
    /// Cartesi Rollups v2 InputBox.
    interface IInputBox {
        function addInput(address appContract, bytes calldata payload) external returns (bytes32);
        function getNumberOfInputs(address appContract) external view returns (uint256);
        function getDeploymentBlockNumber() external view returns (uint256);
        event InputAdded(address indexed appContract, uint256 indexed index, bytes input);
    }

    #[sol(rpc)]
    /// Cartesi Rollups v2 ERC20Portal.
    interface IERC20Portal {
        function depositERC20Tokens(address token, address appContract, uint256 value, bytes calldata execLayerData) external;
    }

    #[sol(rpc)]
    /// Cartesi Rollups v2 EtherPortal.
    interface IEtherPortal {
        function depositEther(address appContract, bytes calldata execLayerData) external payable;
    }

    #[sol(rpc)]
    /// Cartesi Rollups v2.2.0 QuorumFactory.
    interface IQuorumFactory {
        function newQuorum(address[] calldata validators, uint256 epochLength, bytes32 salt) external returns (address);
        function calculateQuorumAddress(address[] calldata validators, uint256 epochLength, bytes32 salt) external view returns (address);
    }

    #[sol(rpc)]
    /// Cartesi Rollups v2.2.0 Quorum: what a validator reads of it.
    interface IQuorum {
        function numOfValidators() external view returns (uint256);
        function validatorById(uint256 id) external view returns (address);
        function numOfValidatorsInFavorOf(address appContract, uint256 lastProcessedBlockNumber, bytes32 outputsMerkleRoot) external view returns (uint256);
    }

    #[sol(rpc)]
    /// Cartesi Rollups v2.2.0 ApplicationFactory.
    interface IApplicationFactory {
        function newApplication(address outputsMerkleRootValidator, address appOwner, bytes32 templateHash, bytes calldata dataAvailability, bytes32 salt) external returns (address);
        function calculateApplicationAddress(address outputsMerkleRootValidator, address appOwner, bytes32 templateHash, bytes calldata dataAvailability, bytes32 salt) external view returns (address);
        event ApplicationCreated(address indexed outputsMerkleRootValidator, address appOwner, bytes32 templateHash, bytes dataAvailability, address appContract);
    }

    #[sol(rpc)]
    /// Cartesi Rollups v2.2.0 SelfHostedApplicationFactory: an Authority and an Application
    /// in one transaction.
    interface ISelfHostedApplicationFactory {
        function deployContracts(address authorityOwner, uint256 epochLength, address appOwner, bytes32 templateHash, bytes calldata dataAvailability, bytes32 salt) external returns (address, address);
        function calculateAddresses(address authorityOwner, uint256 epochLength, address appOwner, bytes32 templateHash, bytes calldata dataAvailability, bytes32 salt) external view returns (address, address);
    }

    #[sol(rpc)]
    /// What a deployment reads of an Authority and an Application.
    interface IOwned {
        function owner() external view returns (address);
        function getTemplateHash() external view returns (bytes32);
    }

    #[sol(rpc)]
    /// The ERC-20 calls the devnet needs.
    interface IERC20 {
        function approve(address spender, uint256 value) external returns (bool);
        function balanceOf(address account) external view returns (uint256);
        function transfer(address to, uint256 value) external returns (bool);
    }
}

/// anvil as a child process on a free loopback port; killed when dropped.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    url: String,
}

impl Anvil {
    /// Starts `binary` (anvil) on a free port of 127.0.0.1.
    pub fn spawn(binary: &Path) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(binary)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--silent",
            ])
            .stdout(Stdio::null())
            .spawn()?;
        Ok(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Its JSON-RPC URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits until anvil answers `eth_chainId`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let url = self
            .url
            .parse()
            .map_err(|e| Error::Anvil(format!("{}: {e}", self.url)))?;
        let provider = alloy::providers::ProviderBuilder::new().connect_http(url);
        let started = Instant::now();
        while provider.get_chain_id().await.is_err() {
            if started.elapsed() > timeout {
                return Err(Error::Anvil(format!(
                    "no answer on {} within {timeout:?}",
                    self.url
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Addresses of a deployed devnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deployment {
    /// InputBox (canonical).
    pub input_box: Address,
    /// EtherPortal (canonical).
    pub ether_portal: Address,
    /// ERC20Portal (canonical).
    pub erc20_portal: Address,
    /// The consensus that accepts claims for the application (Authority or Quorum).
    pub consensus: Address,
    /// The Crucible application contract.
    pub application: Address,
    /// The reward ERC-20.
    pub token: Address,
}

/// Creation bytecode of a forge artifact (`{"bytecode": {"object": "0x…"}}`).
pub fn artifact_bytecode(path: &Path) -> Result<Bytes> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Artifact(format!("{}: {e}", path.display())))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Artifact(format!("{}: {e}", path.display())))?;
    let hex = json["bytecode"]["object"]
        .as_str()
        .ok_or_else(|| Error::Artifact(format!("{}: no bytecode.object", path.display())))?;
    hex.parse::<Bytes>()
        .map_err(|e| Error::Artifact(format!("{}: {e}", path.display())))
}

/// The address `CREATE2_DEPLOYER` gives `initcode` with a zero salt.
pub fn create2_address(initcode: &[u8]) -> Address {
    CREATE2_DEPLOYER.create2(B256::ZERO, keccak256(initcode))
}

async fn send(
    provider: &impl Provider,
    tx: TransactionRequest,
) -> Result<alloy::rpc::types::TransactionReceipt> {
    let receipt = provider.send_transaction(tx).await?.confirmed().await?;
    if !receipt.status() {
        return Err(Error::Reverted(format!(
            "transaction {} reverted",
            receipt.transaction_hash
        )));
    }
    Ok(receipt)
}

/// Deploys `initcode` through the CREATE2 proxy with a zero salt, unless code is already
/// there; returns the canonical address.
pub async fn deploy_create2(provider: &impl Provider, initcode: &[u8]) -> Result<Address> {
    let address = create2_address(initcode);
    if provider.get_code_at(address).await?.is_empty() {
        let data: Vec<u8> = [B256::ZERO.as_slice(), initcode].concat();
        send(
            provider,
            TransactionRequest::default()
                .with_to(CREATE2_DEPLOYER)
                .with_input(data),
        )
        .await?;
        if provider.get_code_at(address).await?.is_empty() {
            return Err(Error::Reverted(format!(
                "CREATE2 deployment to {address} left no code"
            )));
        }
    }
    Ok(address)
}

/// Deploys with plain CREATE; returns the new contract's address.
pub async fn deploy_create(provider: &impl Provider, initcode: Vec<u8>) -> Result<Address> {
    let receipt = send(
        provider,
        TransactionRequest::default().with_deploy_code(initcode),
    )
    .await?;
    receipt
        .contract_address
        .ok_or_else(|| Error::Reverted("deployment returned no contract address".into()))
}

/// Who accepts an application's claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsensusSpec {
    /// An Authority owned by this address: its claims are accepted at once.
    Authority(Address),
    /// A Quorum of these validators: a root is accepted once a majority claims it.
    Quorum(Vec<Address>),
}

/// The Cartesi Rollups v2.2.0 contracts a deployment relies on, with their canonical
/// addresses (the same on every chain: CREATE2 through [`CREATE2_DEPLOYER`], zero salt).
pub const CANONICAL: [(&str, Address); 7] = [
    ("InputBox", rollup::INPUT_BOX),
    ("EtherPortal", rollup::ETHER_PORTAL),
    ("ERC20Portal", rollup::ERC20_PORTAL),
    ("AuthorityFactory", rollup::AUTHORITY_FACTORY),
    ("QuorumFactory", rollup::QUORUM_FACTORY),
    ("ApplicationFactory", rollup::APPLICATION_FACTORY),
    (
        "SelfHostedApplicationFactory",
        rollup::SELF_HOSTED_APPLICATION_FACTORY,
    ),
];

/// The template hash of an application run by a host-mode node only (no Cartesi machine
/// image): `keccak256("crucible host-mode template")`.
pub fn host_template_hash() -> B256 {
    keccak256(b"crucible host-mode template")
}

/// The application's data availability: its inputs come from the InputBox,
/// `abi.encodeCall(DataAvailability.InputBox, (inputBox))`.
pub fn input_box_data_availability() -> Bytes {
    // selector 0xb12c9ede ‖ pad32(inputBox)
    [
        &[0xb1, 0x2c, 0x9e, 0xde][..],
        rollup::INPUT_BOX.into_word().as_slice(),
    ]
    .concat()
    .into()
}

/// Deploys every contract of [`CANONICAL`] that the chain lacks through the CREATE2 proxy,
/// from the `@cartesi/rollups@2.2.0` artifacts in `rollups` (`…/out`). What the artifacts
/// give must land at the canonical addresses; a mismatch is an [`Error::Artifact`].
pub async fn install_canonical(provider: &impl Provider, rollups: &Path) -> Result<()> {
    let code = |name: &str| artifact_bytecode(&rollups.join(format!("{name}.sol/{name}.json")));
    let with_args = |name: &str, args: Vec<u8>| -> Result<Vec<u8>> {
        Ok([code(name)?.to_vec(), args].concat())
    };
    let input_box = rollup::INPUT_BOX.abi_encode();
    let factories = (rollup::AUTHORITY_FACTORY, rollup::APPLICATION_FACTORY).abi_encode_params();
    for (name, canonical) in CANONICAL {
        let initcode = match name {
            "EtherPortal" | "ERC20Portal" => with_args(name, input_box.clone())?,
            "SelfHostedApplicationFactory" => with_args(name, factories.clone())?,
            _ => code(name)?.to_vec(),
        };
        let address = deploy_create2(provider, &initcode).await?;
        if address != canonical {
            return Err(Error::Artifact(format!(
                "{}: {name} deploys to {address}, not to its canonical address {canonical}: are these the v2.2.0 artifacts?",
                rollups.display()
            )));
        }
    }
    Ok(())
}

/// Checks that every contract of [`CANONICAL`] has code on the chain.
pub async fn check_canonical(provider: &impl Provider) -> Result<()> {
    for (name, address) in CANONICAL {
        if provider.get_code_at(address).await?.is_empty() {
            return Err(Error::NoCanonicalContracts {
                name,
                address,
                chain_id: provider.get_chain_id().await?,
            });
        }
    }
    Ok(())
}

/// A salt for the factories' CREATE2 that no earlier deployment by `owner` used:
/// `keccak256(owner ‖ owner's pending nonce)`.
pub async fn fresh_salt(provider: &impl Provider, owner: Address) -> Result<B256> {
    let nonce = provider.get_transaction_count(owner).pending().await?;
    Ok(keccak256((owner, U256::from(nonce)).abi_encode_params()))
}

/// What [`deploy_application`] made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppDeployment {
    /// The consensus (an Authority or a Quorum).
    pub consensus: Address,
    /// The application contract.
    pub application: Address,
    /// The template hash the application holds.
    pub template_hash: B256,
    /// The CREATE2 salt given to the factories.
    pub salt: B256,
    /// The block of the application's deployment.
    pub block: u64,
}

/// Deploys the consensus and the application through the canonical factories, as on any
/// chain that has Cartesi Rollups v2.2.0 (checked first): an Authority owned by the given
/// address and the application in one transaction of the SelfHostedApplicationFactory, or
/// the Quorum of the QuorumFactory (reused if these validators already have one) and the
/// application of the ApplicationFactory. `owner` owns the application.
pub async fn deploy_application(
    provider: &impl Provider,
    owner: Address,
    consensus: &ConsensusSpec,
    epoch_length: u64,
    template_hash: B256,
    salt: B256,
) -> Result<AppDeployment> {
    check_canonical(provider).await?;
    if epoch_length == 0 {
        return Err(Error::Reverted(
            "the epoch length must be at least 1".into(),
        ));
    }
    let length = U256::from(epoch_length);
    let data_availability = input_box_data_availability();
    let (consensus, application) = match consensus {
        ConsensusSpec::Authority(authority_owner) => {
            let factory = ISelfHostedApplicationFactory::new(
                rollup::SELF_HOSTED_APPLICATION_FACTORY,
                provider,
            );
            let addresses = factory
                .calculateAddresses(
                    *authority_owner,
                    length,
                    owner,
                    template_hash,
                    data_availability.clone(),
                    salt,
                )
                .call()
                .await?;
            let (application, authority) = (addresses._0, addresses._1);
            refuse_taken(provider, application, salt).await?;
            let call = factory.deployContracts(
                *authority_owner,
                length,
                owner,
                template_hash,
                data_availability,
                salt,
            );
            let sent = async { call.send().await?.confirmed().await };
            create2_landed(provider, application, sent).await?;
            (authority, application)
        }
        ConsensusSpec::Quorum(validators) => {
            let quorum = deploy_quorum(provider, validators, epoch_length).await?;
            let factory = IApplicationFactory::new(rollup::APPLICATION_FACTORY, provider);
            let application = factory
                .calculateApplicationAddress(
                    quorum,
                    owner,
                    template_hash,
                    data_availability.clone(),
                    salt,
                )
                .call()
                .await?;
            refuse_taken(provider, application, salt).await?;
            let call =
                factory.newApplication(quorum, owner, template_hash, data_availability, salt);
            let sent = async { call.send().await?.confirmed().await };
            create2_landed(provider, application, sent).await?;
            (quorum, application)
        }
    };
    let block = u64::try_from(
        crate::app::IApplication::new(application, provider)
            .getDeploymentBlockNumber()
            .call()
            .await?,
    )
    .unwrap_or_default();
    Ok(AppDeployment {
        consensus,
        application,
        template_hash,
        salt,
        block,
    })
}

/// How long [`create2_landed`] waits for the code of a transaction whose answer was lost.
const LOST_ANSWER_WAIT: Duration = Duration::from_secs(120);

/// Waits for `sent`, a factory's transaction that deploys to the CREATE2 address `target`.
/// If its answer is lost — the endpoint took the transaction and the connection dropped, and
/// sending it again was refused as a known transaction or a spent nonce — the code at
/// `target` tells whether it went through: up to [`LOST_ANSWER_WAIT`] is waited for it.
async fn create2_landed(
    provider: &impl Provider,
    target: Address,
    sent: impl Future<Output = Result<alloy::rpc::types::TransactionReceipt>>,
) -> Result<()> {
    match sent.await {
        Ok(receipt) if receipt.status() && !provider.get_code_at(target).await?.is_empty() => {
            Ok(())
        }
        Ok(receipt) => Err(Error::Reverted(format!(
            "the factory's transaction {} left no code at {target}",
            receipt.transaction_hash
        ))),
        Err(e) => {
            tracing::warn!("sending the factory's transaction: {e}; looking for {target} on chain");
            let started = Instant::now();
            while started.elapsed() < LOST_ANSWER_WAIT {
                if !provider.get_code_at(target).await?.is_empty() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e)
        }
    }
}

/// An error if `application` (a factory's CREATE2 target) already has code.
async fn refuse_taken(provider: &impl Provider, application: Address, salt: B256) -> Result<()> {
    if provider.get_code_at(application).await?.is_empty() {
        Ok(())
    } else {
        Err(Error::Reverted(format!(
            "an application with these parameters and salt {salt} already exists at {application}: give another salt"
        )))
    }
}

/// Deploys a whole development chain: the canonical contracts where missing
/// ([`install_canonical`] from `rollups`, `node_modules/@cartesi/rollups/out`), the
/// consensus and the application through the factories ([`deploy_application`], with the
/// host-mode template hash), and a reward token from the forge artifact `token`
/// (`contracts/src/RewardToken.sol`) whose supply goes to `owner`.
pub async fn deploy(
    provider: &impl Provider,
    owner: Address,
    consensus: &ConsensusSpec,
    epoch_length: u64,
    rollups: &Path,
    token: &Path,
    token_supply: U256,
) -> Result<Deployment> {
    install_canonical(provider, rollups).await?;
    let salt = fresh_salt(provider, owner).await?;
    let app = deploy_application(
        provider,
        owner,
        consensus,
        epoch_length,
        host_template_hash(),
        salt,
    )
    .await?;
    let token = deploy_token(provider, token, token_supply).await?;
    Ok(Deployment {
        input_box: rollup::INPUT_BOX,
        ether_portal: rollup::ETHER_PORTAL,
        erc20_portal: rollup::ERC20_PORTAL,
        consensus: app.consensus,
        application: app.application,
        token,
    })
}

/// Deploys the reward ERC-20 ("Crucible Reward", CRU) from its forge artifact; the supply
/// goes to the sender.
pub async fn deploy_token(
    provider: &impl Provider,
    artifact: &Path,
    supply: U256,
) -> Result<Address> {
    let args = ("Crucible Reward".to_string(), "CRU".to_string(), supply).abi_encode_params();
    deploy_create(
        provider,
        [artifact_bytecode(artifact)?.to_vec(), args].concat(),
    )
    .await
}

/// The Quorum of `validators` (in this order) with `epoch_length`, made by the canonical
/// QuorumFactory with a zero salt (so the same validators and epoch length share one).
pub async fn deploy_quorum(
    provider: &impl Provider,
    validators: &[Address],
    epoch_length: u64,
) -> Result<Address> {
    if validators.is_empty() {
        return Err(Error::Reverted(
            "a Quorum needs at least one validator".into(),
        ));
    }
    let factory = IQuorumFactory::new(rollup::QUORUM_FACTORY, provider);
    let length = U256::from(epoch_length);
    let address = factory
        .calculateQuorumAddress(validators.to_vec(), length, B256::ZERO)
        .call()
        .await?;
    if provider.get_code_at(address).await?.is_empty() {
        let call = factory.newQuorum(validators.to_vec(), length, B256::ZERO);
        let sent = async { call.send().await?.confirmed().await };
        create2_landed(provider, address, sent).await?;
    }
    Ok(address)
}
