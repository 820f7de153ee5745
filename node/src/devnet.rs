//! A local devnet: Cartesi Rollups v2.2.0 deployed on anvil at their canonical CREATE2
//! addresses from the published npm artifacts (`@cartesi/rollups@2.2.0`, no hand-copied
//! hex), plus the consensus (an Authority, or a Quorum of validators made by the canonical
//! QuorumFactory), the Application and a reward token from `contracts/`.

use crate::{Confirm, Error, Result};
use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::Provider,
    rpc::types::TransactionRequest,
    sol,
    sol_types::SolValue,
};
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

/// Deploys the whole devnet. `rollups` is `node_modules/@cartesi/rollups/out`, `token` the
/// forge artifact of `contracts/src/RewardToken.sol`. `owner` owns the Application and
/// receives the token supply; a Quorum comes from the canonical QuorumFactory (deployed
/// first if the chain lacks it), with a zero salt.
pub async fn deploy(
    provider: &impl Provider,
    owner: Address,
    consensus: &ConsensusSpec,
    epoch_length: u64,
    rollups: &Path,
    token: &Path,
    token_supply: U256,
) -> Result<Deployment> {
    let code = |name: &str| artifact_bytecode(&rollups.join(format!("{name}.sol/{name}.json")));
    let input_box = deploy_create2(provider, &code("InputBox")?).await?;
    let with_input_box = |name: &str| -> Result<Vec<u8>> {
        Ok([code(name)?.to_vec(), input_box.abi_encode()].concat())
    };
    let ether_portal = deploy_create2(provider, &with_input_box("EtherPortal")?).await?;
    let erc20_portal = deploy_create2(provider, &with_input_box("ERC20Portal")?).await?;

    let consensus = match consensus {
        ConsensusSpec::Authority(authority_owner) => {
            deploy_create(
                provider,
                [
                    code("Authority")?.to_vec(),
                    (*authority_owner, U256::from(epoch_length)).abi_encode_params(),
                ]
                .concat(),
            )
            .await?
        }
        ConsensusSpec::Quorum(validators) => {
            deploy_quorum(provider, &code("QuorumFactory")?, validators, epoch_length).await?
        }
    };
    // DataAvailability.InputBox(inputBox): selector 0xb12c9ede ‖ pad32(inputBox).
    let data_availability: Vec<u8> = [
        &[0xb1, 0x2c, 0x9e, 0xde][..],
        input_box.into_word().as_slice(),
    ]
    .concat();
    let template_hash = keccak256(b"crucible host-mode template");
    let app_args = (
        consensus,
        owner,
        template_hash,
        Bytes::from(data_availability),
    )
        .abi_encode_params();
    let application =
        deploy_create(provider, [code("Application")?.to_vec(), app_args].concat()).await?;
    let token_args = (
        "Crucible Reward".to_string(),
        "CRU".to_string(),
        token_supply,
    )
        .abi_encode_params();
    let token = deploy_create(
        provider,
        [artifact_bytecode(token)?.to_vec(), token_args].concat(),
    )
    .await?;
    Ok(Deployment {
        input_box,
        ether_portal,
        erc20_portal,
        consensus,
        application,
        token,
    })
}

/// The Quorum of `validators` (in this order) with `epoch_length`, made by the canonical
/// QuorumFactory with a zero salt; deploys the factory first if the chain lacks it.
pub async fn deploy_quorum(
    provider: &impl Provider,
    factory_code: &[u8],
    validators: &[Address],
    epoch_length: u64,
) -> Result<Address> {
    if validators.is_empty() {
        return Err(Error::Reverted(
            "a Quorum needs at least one validator".into(),
        ));
    }
    let factory = IQuorumFactory::new(deploy_create2(provider, factory_code).await?, provider);
    let length = U256::from(epoch_length);
    let address = factory
        .calculateQuorumAddress(validators.to_vec(), length, B256::ZERO)
        .call()
        .await?;
    if provider.get_code_at(address).await?.is_empty() {
        let receipt = factory
            .newQuorum(validators.to_vec(), length, B256::ZERO)
            .send()
            .await?
            .confirmed()
            .await?;
        if !receipt.status() || provider.get_code_at(address).await?.is_empty() {
            return Err(Error::Reverted(format!(
                "QuorumFactory.newQuorum left no code at {address}"
            )));
        }
    }
    Ok(address)
}
